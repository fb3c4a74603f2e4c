"""Training a model on a dataset: the ``train`` job and its parts.

config      ``TrainConfig``, validated where it is received
inputs      the named inputs and labels of a split's movies (``load_inputs``)
cv          cross-validation on the training part and the final model
record      what a run folder's metrics.json holds, typed and validated
history     its history.json: the models' per-epoch records, typed and validated
typed_json  frozen dataclasses read from and written to JSON by their type hints, validated
predictions the test predictions (predictions_test.csv), checked against the record
run         the run folder, written whole or not at all
job         ``train``: all of it, then the bundle

The names below are imported on first use, so that readers of a run folder (``compare``,
``report``: ``training.record``, ``training.run``) do not load torch and the models.
"""

from importlib import import_module

_WHERE = {"TrainConfig": "config", "CVResult": "cv", "cross_validate": "cv",
          "final_model": "cv", "ModelData": "inputs", "load_inputs": "inputs", "train": "job",
          "COMPLETE": "run", "is_complete": "run"}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = sorted(_WHERE)
