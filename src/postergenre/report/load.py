"""A finished run folder, read back for the report: nothing is retrained or re-embedded.

The numbers come from the run's record (``training.record``: ``metrics.json`` and
``history.json``, validated whole, so a bad value refuses the report with the file and the
key), the test probabilities (unrounded) and decisions from ``predictions_test.csv``
(``training.predictions``: checked against the record); the dataset the run was trained on
(named in its record) and its split, when they can still be read, give the data section and
the posters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.dataset import Dataset, load_dataset
from ..data.splits import Split
from ..errors import UserError
from ..training.history import History, read_history
from ..training.predictions import read_predictions
from ..training.record import RunRecord, read_record
from ..training.run import COMPLETE, is_complete


@dataclass
class Run:
    path: Path
    record: RunRecord  # metrics.json
    history: History
    genres: list[str]
    ids: list[str]  # test movies, in predictions_test.csv order
    y: np.ndarray  # (n, G) 0/1 true genres
    prob: np.ndarray  # (n, G) probabilities
    pred: np.ndarray  # (n, G) bool decisions
    dataset: Dataset | None = None
    parts: dict[str, str] | None = None  # id -> "test" | "fold0" ... (the run's split)
    notes: list[str] = field(default_factory=list)  # what could not be read, for the reader

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def posters(self) -> dict[str, Path]:
        """Poster file by id ({} without the dataset)."""
        if self.dataset is None:
            return {}
        return dict(zip(self.dataset.frame["id"], self.dataset.frame["path"], strict=True))

    def titles(self) -> dict[str, str]:
        """Title by id, where known ({} without the dataset)."""
        if self.dataset is None:
            return {}
        f = self.dataset.frame
        return {i: t for i, t in zip(f["id"], f["title"], strict=True) if isinstance(t, str)}


def load_run(path: Path, data_dir: Path | None = None) -> Run:
    """The finished run at ``path``; ``UserError`` for an unfinished or unreadable one.

    ``data_dir`` overrides the dataset folder the run records.
    """
    if not path.is_dir():
        raise UserError(f"{path}: no such run folder")
    if not is_complete(path):
        raise UserError(f"{path}: unfinished run (no {COMPLETE} marker); wait for train to end")
    record, history = read_record(path), read_history(path)
    genres = list(record.data.genres)
    test = read_predictions(path, record)
    run = Run(path, record, history, genres, test.ids, test.y, test.prob, test.pred)
    _attach_data(run, data_dir)
    return run


def _attach_data(run: Run, data_dir: Path | None) -> None:
    """The run's dataset and split, where they can be read; else a note for the reader, also
    given as a warning (a note on the command line's stderr) naming ``--data``."""
    root = data_dir or _recorded(run.path, run.record.data.dataset)
    try:
        run.dataset = load_dataset(root, hash_contents=False)
    except UserError as e:
        note = (f"The dataset could not be read ({e}): no posters, and the data section shows "
                "only the run's own counts. Name the dataset folder with --data.")
        run.notes.append(note)
        warnings.warn(f"{run.path}: {note}", stacklevel=3)
        return
    for candidate in (run.path / "split.json", _recorded(run.path, run.record.split.file)):
        if candidate.is_file():
            try:
                run.parts = Split.load(candidate).parts
                return
            except UserError as e:
                run.notes.append(f"Split file unreadable ({e}).")
    run.notes.append("The run's split file is gone: counts are over the whole dataset.")


def _recorded(run_dir: Path, recorded: str) -> Path:
    """A path the run recorded. Runs record absolute paths; older ones wrote a path relative to
    the folder ``train`` ran in, which held the run folder: the nearest folder above the run
    folder where that path exists (else the path as written)."""
    path = Path(recorded)
    if path.is_absolute():
        return path
    found = (above / path for above in run_dir.resolve().parents)
    return next((p for p in found if p.exists()), path)
