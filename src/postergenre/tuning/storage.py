"""Where a study lives: Optuna RDB storage shared by workers, and requeueing lost trials.

A running trial writes a heartbeat every ``HEARTBEAT_S``; one silent for ``GRACE_S`` (its
worker was killed) is marked failed when a worker next starts a trial, and the parameters of
every failed trial that nothing else covers are queued again, so a grid loses no point.
``$POSTERGENRE_TUNE_HEARTBEAT`` and ``$POSTERGENRE_TUNE_GRACE`` change the two (seconds).
Any SQLAlchemy URL works; several machines share a PostgreSQL one (``postgresql://...``
runs on psycopg 3: ``pip install 'postergenre[postgres]'``).
"""

from __future__ import annotations

import itertools
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from ..atomic import check_output
from ..errors import UserError

HEARTBEAT_S = 30  # a running trial writes a heartbeat this often ...
GRACE_S = 120  # ... and is declared failed (and requeued) when silent for this long
HEARTBEAT_ENV, GRACE_ENV = "POSTERGENRE_TUNE_HEARTBEAT", "POSTERGENRE_TUNE_GRACE"
DRIVER_HINT = "pip install 'postergenre[postgres]'"


def heartbeat_settings() -> tuple[int, int]:
    """(heartbeat, grace) in seconds: the defaults, or the environment's whole numbers."""
    heartbeat = _seconds(HEARTBEAT_ENV, HEARTBEAT_S)
    grace = _seconds(GRACE_ENV, GRACE_S)
    if grace <= heartbeat:
        raise UserError(f"{GRACE_ENV} ({grace} s) must be longer than the heartbeat "
                        f"({heartbeat} s), or live trials would be failed")
    return heartbeat, grace


def _seconds(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    if not text.strip().isdigit() or not 1 <= int(text) <= 86_400:
        raise UserError(f"{name} must be whole seconds from 1 to 86400, not {text!r}")
    return int(text)


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; SQLite waits for locks held by other workers,
    server connections are checked before use (a worker outlives idle timeouts)."""
    import optuna

    url = _with_driver(url)
    heartbeat, grace = heartbeat_settings()
    if url.startswith("sqlite"):
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    # Workers starting together race to create the schema; the loser retries on the tables
    # the winner made.
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat,
                    grace_period=grace,
                    heartbeat_stale_trial_callback=_requeue_stale,
                )
        except ImportError as e:  # the database's driver
            raise _no_driver(url, e) from None
        except Exception as e:  # noqa: BLE001 - SQLAlchemy/driver errors are many and untyped
            if attempt == 4:
                why = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise UserError(f"cannot open study storage {hide_password(url)}: {why}"
                                ) from None
            time.sleep(0.5 * (attempt + 1))


def check_storage(url: str) -> None:
    """Refuse, before any work, a ``--storage`` that SQLAlchemy cannot parse, whose driver is
    not installed, or (SQLite) whose file cannot be written; and bad heartbeat settings."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    heartbeat_settings()
    url = _with_driver(url)
    try:
        make_url(url).get_dialect().import_dbapi()
    except ArgumentError as e:
        raise UserError(f"--storage {hide_password(url)}: not a database URL ({e})") from None
    except ImportError as e:
        raise _no_driver(url, e) from None
    if url.startswith("sqlite:///"):
        check_output(Path(url.removeprefix("sqlite:///").partition("?")[0]), "--storage",
                     folder=False)


def _with_driver(url: str) -> str:
    for plain in ("postgres://", "postgresql://"):  # no driver named: the one we install
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url


def _no_driver(url: str, e: ImportError) -> UserError:
    hint = f": {DRIVER_HINT}" if url.startswith("postgresql") else ""
    name = getattr(e.__cause__, "name", None) or e.name or "its driver"
    return UserError(f"study storage {hide_password(url)} needs {name}, which is not "
                     f"installed{hint}")


def hide_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def requeue_failed(study) -> int:
    """Queue again every failed trial's parameters that no other trial has finished, runs or
    waits to run. Returns how many were queued."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    covered = {
        _params_key(p)
        for t in trials
        if t.state in live and (p := t.system_attrs.get("fixed_params") or _lost_params(t))
    }
    queued = 0
    for t in trials:
        params = _lost_params(t) if t.state == TrialState.FAIL else None
        if not params or _params_key(params) in covered:
            continue
        if "grid_id" in t.system_attrs:  # the grid sampler picks the point from its id
            keep = {k: t.system_attrs[k] for k in ("grid_id", "search_space")}
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.WAITING,
                    system_attrs=keep,
                    user_attrs={"requeued_from": t.number},
                )
            )
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.enqueue_trial(params, user_attrs={"requeued_from": t.number})
        covered.add(_params_key(params))
        queued += 1
    return queued


def _requeue_stale(study, trial) -> None:
    """Heartbeat callback: a killed worker's trial went stale and was marked failed."""
    requeue_failed(study)


def _params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _lost_params(trial) -> dict | None:
    """A failed trial's parameters (from the grid id when it failed before suggesting)."""
    if trial.params:
        return dict(trial.params)
    attrs = trial.system_attrs
    if "grid_id" in attrs and "search_space" in attrs:
        space = attrs["search_space"]
        point = list(itertools.product(*space.values()))[attrs["grid_id"]]
        return dict(zip(space, point, strict=True))
    return None
