"""Hostile input, second round: where output goes, options checked before work, and output a
person reads. Each refusal ends with exit code 2 and one line naming the path or option,
never a traceback, before any work, and loses nothing written earlier."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

# These import load_bundle and produce_files by name: imported before a test patches those,
# so that none keeps a stand-in.
import postergenre.bundle.similar
import postergenre.features.specs
import postergenre.training.job  # noqa: F401
from postergenre import atomic, progress
from postergenre.cache import ArrayStore
from postergenre.cli import main
from postergenre.data.splits import Split
from postergenre.data.table import normalise_id
from postergenre.errors import UserError
from postergenre.predict import Prediction, expand_inputs

from .conftest import save_image
from .test_fetch import write_table
from .test_hostile import genre_dataset, no_work, one_line, run  # noqa: F401 - a fixture

# Where an output cannot go: /proc takes no new file, /sys is read-only even for root, a path
# below a file, a file where a folder belongs (or a folder where a file belongs), a name too
# long for the file system, a link to nothing.
PLACES = ["proc", "sys", "under a file", "wrong kind", "name too long", "dangling link"]


def place(tmp_path: Path, where: str, folder: bool) -> Path:
    taken = tmp_path / "taken"
    taken.write_text("precious\n")
    if where == "wrong kind":
        return taken if folder else tmp_path
    if where == "dangling link":
        (tmp_path / "link").symlink_to(tmp_path / "nowhere" / "x")
        return tmp_path / "link"
    base = {"proc": Path("/proc/postergenre-test"), "sys": Path("/sys/postergenre-test"),
            "under a file": taken / "x", "name too long": tmp_path / ("n" * 300)}[where]
    return base if folder else base / "out.file"


# command -> (argv with {out} and {data}, whether the output is a folder)
COMMANDS = {
    "data check --out": (["data", "check", "{data}", "--out", "{out}"], True),
    "data split --out": (["data", "split", "{data}", "--out", "{out}"], False),
    "train --out": (["train", "{data}", "--out", "{out}"], True),
    "train --cache": (["train", "{data}", "--out", "{tmp}/run", "--cache", "{out}"], True),
    "train --split": (["train", "{data}", "--out", "{tmp}/run", "--split", "{out}"], False),
    "evaluate --out": (["evaluate", "{tmp}/bundle", "{data}", "--out", "{out}"], True),
    "embed --cache": (["embed", "{data}", "--cache", "{out}"], True),
    "tune --out": (["tune", "{data}", "--out", "{out}"], True),
    "tune --cache": (["tune", "{data}", "--out", "{tmp}/t", "--cache", "{out}"], True),
    "tune --storage": (["tune", "{data}", "--out", "{tmp}/t", "--storage", "sqlite:///{out}"],
                       False),
    "compare --out": (["compare", "{tmp}", "--out", "{out}"], True),
    "report --out": (["report", "{tmp}", "--out", "{out}"], False),
    "data fetch --out": (["data", "fetch", "{tmp}/movies.csv", "--out", "{out}"], True),
    "index --cache": (["index", "{tmp}/run", "--cache", "{out}"], True),
}


@pytest.fixture
def no_command_work(monkeypatch, no_work):  # noqa: F811 - the imported fixture
    """Every command's work fails the test: a refusal must come before it."""

    def work(*args, **kwargs):
        raise AssertionError("work began before the refusal")

    for name in ("postergenre.features.producer.produce_files", "postergenre.compare.compare",
                 "postergenre.report.build_report", "postergenre.report.build_leaderboard",
                 "postergenre.data.fetch.job.select"):
        monkeypatch.setattr(name, work)


@pytest.mark.parametrize("where", PLACES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_output_that_cannot_be_written_is_refused_before_work(capsys, no_command_work,
                                                                  tmp_path, command, where):
    argv, folder = COMMANDS[command]
    out = place(tmp_path, where, folder)
    write_table(tmp_path / "movies.csv", [{"id": "a", "image": "a.png"}])
    before = sorted(tmp_path.rglob("*"))
    code, _, err = run(capsys, [a.format(out=out, data=tmp_path / "data", tmp=tmp_path)
                                for a in argv])
    assert code == 2 and str(out) in one_line(err), err
    assert sorted(tmp_path.rglob("*")) == before  # nothing made, nothing left behind
    assert (tmp_path / "taken").read_text() == "precious\n"
    assert where in ("wrong kind", "dangling link") or not os.path.lexists(out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder")
def test_a_read_only_folder_is_refused_before_work(capsys, no_work, tmp_path):  # noqa: F811
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code, _, err = run(capsys, ["data", "check", tmp_path, "--out", locked / "out"])
    assert code == 2 and f"{locked / 'out'}: cannot write in {locked}" in one_line(err)


def test_an_os_error_at_write_time_is_one_line_naming_the_file(capsys, monkeypatch, tmp_path):
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy"])
    out = tmp_path / "splits" / "split.json"

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src), None, str(dst))

    monkeypatch.setattr(atomic.os, "replace", full)
    code, _, err = run(capsys, ["data", "split", data, "--folds", "3", "--out", out])
    assert code == 2 and one_line(err) == f"error: {out}: cannot write (No space left on device)"
    assert list(out.parent.iterdir()) == []  # no temporary file left


def test_an_os_error_no_command_foresaw_is_one_line_naming_the_file(capsys, monkeypatch,
                                                                     tmp_path):
    def vanished(*args, **kwargs):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(tmp_path / "m00.png"))

    monkeypatch.setattr("postergenre.cli.data.check_dataset", vanished)
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy"])
    code, _, err = run(capsys, ["data", "check", data, "--out", tmp_path / "c"])
    assert code == 2 and one_line(err) == f"error: {tmp_path / 'm00.png'}: Input/output error"


def test_write_errors_name_the_file_and_other_errors_pass(tmp_path):
    def no_room(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match=f"^{tmp_path / 'a.json'}: cannot write \\(No space"):
        atomic.write_with(tmp_path / "a.json", no_room)

    def reads_another(tmp: Path) -> None:
        open(tmp_path / "missing.csv")

    with pytest.raises(FileNotFoundError):  # a writer's own error about another file
        atomic.write_with(tmp_path / "b.json", reads_another)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_naming_a_file_is_a_user_error_naming_it(tmp_path):
    taken = tmp_path / "cache"
    taken.write_text("precious\n")
    store = ArrayStore(taken, "p", "1")
    with pytest.raises(UserError, match=f"^{store.dir}/shard-.*: cannot write"):
        store.put(["k"], [[1.0]])
    assert taken.read_text() == "precious\n"


def test_no_usable_temporary_folder_is_a_user_error(monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", "/proc/postergenre-test")
    with pytest.raises(UserError, match="/proc/postergenre-test.*set TMPDIR"), \
            atomic.temp_folder():
        pass


# ----------------------------------------------------------------- options checked first

@pytest.mark.parametrize("argv, named", [
    (["evaluate", "{tmp}/bundle", "{data}", "--split", "{split}", "--part", "nope"],
     "--part 'nope'"),
    (["evaluate", "{tmp}/bundle", "{data}", "--part", "fold0"], "--part needs --split"),
    (["data", "split", "{data}", "--folds", "1000", "--out", "{tmp}/s.json"], "folds"),
    (["data", "split", "{data}", "--test", "0.9", "--out", "{tmp}/s.json"], "test"),
    (["tune", "{data}", "--trials", "0", "--out", "{tmp}/t"], "trials"),
    (["tune", "{data}", "--timeout", "-1", "--out", "{tmp}/t"], "timeout"),
    (["tune", "{data}", "--storage", "nope://x", "--out", "{tmp}/t"], "--storage nope://x"),
    (["tune", "{data}", "--storage", "mysql://u@h/db", "--out", "{tmp}/t"], "needs MySQLdb"),
    (["data", "fetch", "{tmp}/movies.csv", "--out", "{tmp}/ds", "--base-url", "ftp://h/p"],
     "--base-url ftp://h/p: unsupported-scheme"),
])
def test_options_are_checked_before_work(capsys, no_command_work, tmp_path, argv, named):
    split = tmp_path / "split.json"
    Split({"a": "test", "b": "fold0"}, 3, 0.15, 0, "fp").save(split)
    code, _, err = run(capsys, [a.format(tmp=tmp_path, data=tmp_path / "d", split=split)
                                for a in argv])
    assert code == 2 and named in one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split.json"]


# ------------------------------------------------------------------ output a person reads

@pytest.fixture
def fake_model(monkeypatch):
    """``predict`` with a stand-in bundle that reads every poster as Drama."""
    genres = ["Drama", "Comedy"]
    monkeypatch.setattr("postergenre.bundle.load_bundle",
                        lambda path, *a, **k: SimpleNamespace(genres=genres, inputs=[]))

    def predict_files(bundle, files, **kwargs):
        return (Prediction(str(f), {"Drama": 0.9, "Comedy": 0.2}, ["Drama"]) for f in files)

    monkeypatch.setattr("postergenre.predict.predict_files", predict_files)


def test_long_file_names_are_whole_through_a_pipe(capsys, fake_model, tmp_path):
    stem = tmp_path / ("a-very-long-poster-name-" * 8)
    files = [save_image(Path(f"{stem}{i}.png")) for i in (1, 2)]
    code, out, _ = run(capsys, ["predict", tmp_path / "model", *files])
    assert code == 0 and "…" not in out
    for f in files:
        assert [line for line in out.splitlines() if str(f) in line and "Drama 0.90" in line]


def test_file_names_like_markup_are_printed_as_they_are(capsys, fake_model, tmp_path):
    odd = save_image(tmp_path / "[" / "b] [/b].png")  # a path with Rich tags in it
    code, out, _ = run(capsys, ["predict", tmp_path / "model", odd])
    assert code == 0 and str(odd) in out
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy"])
    (data / "[bold] m99.png").write_text("not a poster")
    code, out, _ = run(capsys, ["data", "check", data, "--out", tmp_path / "c"])
    assert code == 0 and [line for line in out.splitlines()
                          if line.startswith("bad file") and "[bold] m99.png" in line]


def test_side_by_side_heads_each_poster_by_what_tells_it_apart(capsys, fake_model, tmp_path):
    files = [save_image(tmp_path / part / "poster.jpg") for part in ("a", "b")]
    code, out, _ = run(capsys, ["predict", tmp_path / "model", *files, "--side-by-side"])
    assert code == 0 and str(tmp_path) not in out
    assert [line for line in out.splitlines() if "a/poster.jpg" in line and "b/poster.jpg" in line]


@pytest.mark.parametrize("options", [["--json", "--csv"], ["--csv", "--side-by-side"],
                                     ["--json", "--rank-by", "Drama"], ["--csv", "--top", "3"],
                                     ["--side-by-side", "--top", "3"]])
def test_options_that_cannot_go_together_are_refused(capsys, no_command_work, tmp_path,
                                                     options):
    code, _, err = run(capsys, ["predict", tmp_path / "model", tmp_path, *options])
    named = [o for o in options if o.startswith("--")]
    assert code == 2 and all(o in one_line(err) for o in named) and "together" in err


@pytest.mark.parametrize("options", [["--folds", "4"], ["--test", "0.2"]])
def test_new_split_options_are_refused_with_a_kept_split(capsys, no_command_work, tmp_path,
                                                         options):
    split = tmp_path / "split.json"
    Split({"a": "test", "b": "fold0"}, 3, 0.15, 0, "fp").save(split)
    code, _, err = run(capsys, ["train", tmp_path / "d", "--out", tmp_path / "run",
                                "--split", split, *options])
    assert code == 2 and f"{' '.join(options)} would make a new split, but {split} exists" \
        in one_line(err)
    with pytest.raises(AssertionError, match="the dataset was read"):  # the split's own values
        main([str(a) for a in ["train", tmp_path / "d", "--out", tmp_path / "run", "--split",
                               split, "--folds", "3", "--test", "0.15"]])


def test_a_tables_column_is_refused_with_a_folder(capsys, no_command_work, tmp_path):
    code, _, err = run(capsys, ["embed", tmp_path, "--column", "poster", "--cache",
                                tmp_path / "cache"])
    assert code == 2 and f"--column is for a table of poster paths; {tmp_path}" in one_line(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", [["--data", "d"], ["--bootstrap", "200"], ["--seed", "1"]])
def test_one_runs_report_options_are_refused_with_runs(capsys, no_command_work, tmp_path,
                                                       option):
    code, _, err = run(capsys, ["report", "--runs", tmp_path, *option])
    assert code == 2 and f"{option[0]}: for one run's report, not with --runs" in one_line(err)


def test_a_folder_scan_takes_every_format_pillow_reads(capsys, tmp_path):
    data = genre_dataset(tmp_path / "d", ["Horror", "Drama", "Comedy"])
    Image.open(data / "m00.png").save(data / "m00.avif")
    (data / "m00.png").unlink()
    (data / "notes.h5").write_bytes(b"\x89HDF\r\n\x1a\n")  # a format Pillow only identifies
    assert data / "m00.avif" in expand_inputs([data])
    assert data / "notes.h5" not in expand_inputs([data])
    assert normalise_id("posters/m00.avif") == "m00"  # an id given as its file name
    code, out, _ = run(capsys, ["data", "check", data, "--json", "--out", tmp_path / "c"])
    report = json.loads(out)
    assert code == 0 and report["images_found"] == report["decodable"] == 12


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_fetched_posters_have_the_umasks_permissions(capsys, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        save_image(tmp_path / "src" / "a.png")
        table = write_table(tmp_path / "t.csv", [{"id": "a", "image": "src/a.png"}])
        code, _, _ = run(capsys, ["data", "fetch", table, "--out", tmp_path / "ds", "--json"])
    finally:
        os.umask(old)
    assert code == 0
    for written in (tmp_path / "ds" / "posters" / "a.png", tmp_path / "ds" / "movies.csv"):
        assert stat.S_IMODE(written.stat().st_mode) == mode, written


def test_long_steps_log_progress_lines_without_a_terminal(capsys, monkeypatch):
    assert list(progress.track(range(5), 5, "quick")) == list(range(5))
    assert capsys.readouterr().err == ""  # a short step says nothing
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    assert list(progress.track(range(4), 8, "embedding", size=lambda i: 2)) == list(range(4))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("embedding: 2 of 8 (25%), ") and lines[0].endswith(" left")
    assert lines[-1].startswith("embedding: 8 of 8 (100%), ") and " done in " in lines[-1]


def test_a_progress_line_says_share_rate_and_time_left():
    assert progress.progress_line("decoding", 1200, 8000, 30.0) == \
        "decoding: 1,200 of 8,000 (15%), 40.0/s, 2 min 50 s left"
    assert progress.progress_line("decoding", 0, 10, 5.0).endswith("time left unknown")
