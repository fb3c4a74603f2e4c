"""``tune --storage postgresql://...`` against a real, throwaway PostgreSQL server: two worker
processes share one study, one is killed (SIGKILL) mid-trial, its trial is failed by the
heartbeat and its parameters run again; the study ends complete with nothing left running."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from postergenre.data.dataset import load_dataset
from postergenre.data.splits import load_or_make_split
from postergenre.errors import UserError
from postergenre.features import pixels
from postergenre.tuning.storage import GRACE_S, HEARTBEAT_S, heartbeat_settings, open_storage

from .test_train import colour_dataset

GRID_SIZE = 9  # seed-cnn's prototype grid


def _server_bin() -> Path:
    found = shutil.which("initdb")
    candidates = [found] if found else sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found: install the "
                    "`postgresql` package (CI's .ci/run does)")
    return Path(candidates[-1]).resolve().parent  # with pg_ctl and createdb


@pytest.fixture(scope="module")
def postgres_url(request):
    """A PostgreSQL cluster in a temp folder on a free loopback port; stopped at the end."""
    bin_dir = _server_bin()
    user = None
    root = Path(tempfile.mkdtemp(prefix="pg-"))  # short: it holds the server's socket
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    if os.geteuid() == 0:  # the server refuses to run as root
        user = "postgres"
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*args: str) -> None:
        done = subprocess.run([str(bin_dir / args[0]), *args[1:]], user=user,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{args[0]}: {done.stderr}"

    data = root / "data"
    pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
    request.addfinalizer(lambda: pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop"))
    pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "tune")
    return f"postgresql://postgres@127.0.0.1:{port}/tune"


def _worker_trial(storage, study: str, pid: int):
    """The trial the worker of process ``pid`` is running once its parameters are drawn, if
    any (killed before that, a trial has no parameters to compare)."""
    try:
        s = optuna.load_study(study_name=study, storage=storage)
    except KeyError:  # not created yet
        return None
    mine = f"{socket.gethostname()}:{pid}"
    running = s.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return next((t for t in running if t.user_attrs.get("worker") == mine and t.params), None)


def test_killed_worker_trial_is_retried_on_postgres(postgres_url, tmp_path):
    data = colour_dataset(tmp_path / "data", n=60)
    ds = load_dataset(data)
    load_or_make_split(ds, tmp_path / "split.json", folds=3, test=0.2)
    cache = tmp_path / "cache"
    pixels.load_pixels(list(ds.frame["path"]), list(ds.frame["sha256"]), (32, 32), cache,
                       progress=False)  # both workers read the same cache
    argv = ["tune", str(data), "--model", "seed-cnn", "--space", "prototype-grid",
            "--storage", postgres_url, "--study", "pg", "--split", str(tmp_path / "split.json"),
            "--min-support", "5", "--image-size", "32", "--epochs", "2", "--no-prune",
            "--cv-rounds", "1", "--cache", str(cache)]
    env = {**os.environ, "POSTERGENRE_TUNE_HEARTBEAT": "1", "POSTERGENRE_TUNE_GRACE": "2"}
    code = "import sys; from postergenre.cli import main; sys.exit(main(sys.argv[1:]))"
    workers = [subprocess.Popen([sys.executable, "-c", code, *argv, "--out", str(tmp_path / w)],
                                env=env, stderr=subprocess.PIPE, text=True)
               for w in ("victim", "survivor")]
    victim, survivor = workers
    storage = open_storage(postgres_url)  # as the workers read the URL
    try:
        deadline = time.monotonic() + 60
        while (killed := _worker_trial(storage, "pg", victim.pid)) is None:
            assert victim.poll() is None, victim.communicate()[1]
            assert time.monotonic() < deadline, "the victim never started a trial"
            time.sleep(0.2)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        err = survivor.communicate(timeout=120)[1]
        assert survivor.returncode == 0, err
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()

    trials = optuna.load_study(study_name="pg", storage=storage).get_trials()
    states = [t.state for t in trials]
    assert states.count(TrialState.COMPLETE) == GRID_SIZE and TrialState.RUNNING not in states
    assert trials[killed.number].state == TrialState.FAIL  # failed by the heartbeat
    retried = [t for t in trials if t.user_attrs.get("requeued_from") == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].params == killed.params
    done = {tuple(sorted(t.params.items())) for t in trials if t.state == TrialState.COMPLETE}
    assert len(done) == GRID_SIZE  # every grid point, once


def test_heartbeat_and_grace_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("POSTERGENRE_TUNE_HEARTBEAT", raising=False)
    monkeypatch.delenv("POSTERGENRE_TUNE_GRACE", raising=False)
    assert heartbeat_settings() == (HEARTBEAT_S, GRACE_S)
    monkeypatch.setenv("POSTERGENRE_TUNE_HEARTBEAT", "1")
    monkeypatch.setenv("POSTERGENRE_TUNE_GRACE", "2")
    assert heartbeat_settings() == (1, 2)
    for heartbeat, grace in (("2", "2"), ("0", "5"), ("1.5", "5"), ("1", "x")):
        monkeypatch.setenv("POSTERGENRE_TUNE_HEARTBEAT", heartbeat)
        monkeypatch.setenv("POSTERGENRE_TUNE_GRACE", grace)
        with pytest.raises(UserError, match="POSTERGENRE_TUNE_"):
            heartbeat_settings()
