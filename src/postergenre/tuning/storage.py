"""Where a study lives: Optuna RDB storage shared by workers, and requeueing lost trials.

A running trial writes a heartbeat every ``HEARTBEAT_S``; one silent for ``GRACE_S`` (its
worker was killed) is marked failed, and the parameters of every failed trial that nothing
else covers are queued again, so a grid loses no point.
"""

from __future__ import annotations

import itertools
import json
import time
import warnings
from typing import Any

from ..errors import UserError

HEARTBEAT_S = 30  # a running trial writes a heartbeat this often ...
GRACE_S = 120  # ... and is declared failed (and requeued) when silent for this long


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; SQLite waits for locks held by other workers."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    # Workers starting together race to create the schema; the loser retries on the tables
    # the winner made.
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=_requeue_stale,
                    **kwargs,
                )
        except Exception as e:  # noqa: BLE001 - SQLAlchemy/driver errors are many and untyped
            if attempt == 4:
                raise UserError(f"cannot open study storage {hide_password(url)}: {e}") from None
            time.sleep(0.5 * (attempt + 1))


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
