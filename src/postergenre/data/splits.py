"""Deterministic multi-label splits: k stratified folds plus a held-out test part.

Iterative stratification (Sechidis et al., 2011, via ``iterative-stratification``) runs over
*groups* of byte-identical posters, so duplicates always land in the same part, and in a
single pass with the test fraction as one more part, so rare genres reach every fold first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from iterstrat.ml_stratifiers import IterativeStratification

from ..atomic import write_json
from ..errors import UserError
from .dataset import Dataset
from .vocab import build_vocabulary, multi_hot

SPLIT_FORMAT = 1
TEST = "test"


@dataclass
class Split:
    parts: dict[str, str]  # id -> "test" | "fold0" .. "fold{k-1}"
    folds: int
    test_fraction: float
    seed: int
    fingerprint: str  # of the dataset it was made for
    path: Path | None = field(default=None, compare=False)  # the file it was loaded from

    def digest(self) -> str:
        """Hash of the dataset fingerprint, the fold count and every id's part: a model
        trained on another split (or dataset) has another (``split_fingerprint`` in its
        bundle)."""
        h = hashlib.sha256(f"{self.fingerprint}\t{self.folds}\n".encode())
        for i in sorted(self.parts):
            h.update(f"{i}\t{self.parts[i]}\n".encode())
        return h.hexdigest()[:16]

    def ids(self, part: str) -> list[str]:
        return sorted(i for i, p in self.parts.items() if p == part)

    def check_part(self, part: str | None) -> None:
        """``UserError`` naming ``--part`` when the split has no part ``part``."""
        if part not in {*self.parts.values()}:
            raise UserError(f"--part {part!r}: the split has parts "
                            f"{sorted(set(self.parts.values()))}")

    def fold_names(self) -> list[str]:
        return [f"fold{k}" for k in range(self.folds)]

    def train_ids(self) -> list[str]:
        """Everything but the test part (what CV and tuning may read)."""
        return sorted(i for i, p in self.parts.items() if p != TEST)

    def save(self, path: str | Path) -> None:
        write_json(
            path,
            {
                "format": SPLIT_FORMAT,
                "folds": self.folds,
                "test_fraction": self.test_fraction,
                "seed": self.seed,
                "dataset_fingerprint": self.fingerprint,
                "counts": {p: len(self.ids(p)) for p in [TEST, *self.fold_names()]},
                "parts": self.parts,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """The split saved at ``path``; ``UserError`` naming the file for anything else."""
        path = Path(path)
        if path.is_dir():
            raise UserError(f"{path}: is a folder; --split names a split file")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(d, dict):
                raise ValueError("not a JSON object")
            if d.get("format") != SPLIT_FORMAT:
                raise ValueError(f"unknown split format {d.get('format')!r}")
            parts, folds = d["parts"], d["folds"]
            if not isinstance(parts, dict) or not all(
                isinstance(p, str) for p in [*parts, *parts.values()]
            ):
                raise ValueError("'parts' must map ids to part names")
            if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
                raise ValueError(f"'folds' must be a whole number, not {folds!r}")
            return cls(parts, folds, d["test_fraction"], d["seed"], d["dataset_fingerprint"],
                       path)
        except FileNotFoundError:
            raise UserError(f"{path}: no such split file") from None
        except OSError as e:
            raise UserError(f"{path}: unreadable split file ({e.strerror or e})") from None
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not a postergenre split file ({e})") from None


MAX_FOLDS = 20


def check_settings(folds: int, test: float, seed: int) -> None:
    """``UserError`` naming the first of a split's settings that is out of range."""
    if isinstance(folds, bool) or not isinstance(folds, int) or not 3 <= folds <= MAX_FOLDS:
        raise UserError(
            f"folds must be an integer from 3 to {MAX_FOLDS} (CV trains on k-2 "
            f"folds, validates on one, scores one), not {folds!r}"
        )
    if not 0.01 <= test <= 0.5:
        raise UserError(f"test must be a fraction from 0.01 to 0.5, not {test!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise UserError(f"seed must be an integer from 0 to 2**32-1, not {seed!r}")


def check_kept(path: Path, folds: int | None, test: float | None) -> None:
    """Refuse ``folds``/``test`` (given, so a new split's) other than those of the split
    file at ``path`` that is kept, naming both."""
    if (folds is None and test is None) or not path.is_file():
        return
    s = Split.load(path)
    differ = ([f"--folds {folds}"] if folds not in (None, s.folds) else []) + (
        [f"--test {test}"] if test is not None and abs(test - s.test_fraction) > 1e-9 else [])
    if differ:
        raise UserError(f"{' and '.join(differ)} would make a new split, but {path} exists "
                        f"({s.folds} folds, test {s.test_fraction}) and is kept; drop "
                        f"{'them' if len(differ) > 1 else 'it'} or name a new --split")


def make_split(
    ids,
    hashes,
    genre_lists,
    folds: int = 5,
    test: float = 0.15,
    seed: int = 0,
    fingerprint: str = "",
) -> Split:
    """Assign every id to the test part or one of ``folds`` folds."""
    check_settings(folds, test, seed)
    ids, genre_lists = list(ids), list(genre_lists)
    if len(set(ids)) < 2 * (folds + 1):
        raise UserError(
            f"{len(set(ids))} labelled movies are too few for {folds} folds and a test part"
        )
    keys = [h if h else f"id:{i}" for i, h in zip(ids, hashes, strict=True)]
    group_of = {k: g for g, k in enumerate(dict.fromkeys(keys))}
    groups = np.array([group_of[k] for k in keys])
    vocab = build_vocabulary(genre_lists, min_support=1)
    y = multi_hot(genre_lists, vocab.genres)
    y_groups = np.zeros((len(group_of), y.shape[1]), dtype=np.uint8)
    np.maximum.at(y_groups, groups, y)

    rng = np.random.RandomState(seed)
    order = rng.permutation(len(y_groups))
    r = np.array([test] + [(1 - test) / folds] * folds)
    assigned = IterativeStratification(y_groups[order].astype(bool), r, rng)  # bool: it masks
    part_of_group = np.empty(len(y_groups), dtype=int)
    part_of_group[order] = assigned
    names = [TEST] + [f"fold{k}" for k in range(folds)]
    parts = {i: names[part_of_group[g]] for i, g in zip(ids, groups, strict=True)}
    return Split(parts, folds, test, seed, fingerprint)


def split_dataset(ds: Dataset, folds: int = 5, test: float = 0.15, seed: int = 0) -> Split:
    """Split the labelled images of a dataset (unlabelled ones are left out)."""
    lab = ds.labelled
    return make_split(lab["id"], lab["sha256"], lab["genres"], folds, test, seed, ds.fingerprint())


def load_or_make_split(
    ds: Dataset, path: str | Path, folds: int = 5, test: float = 0.15, seed: int = 0
) -> tuple[Split, bool]:
    """The split saved at ``path`` (checked against the dataset) or a new one saved there."""
    path = Path(path)
    if path.exists():
        split = Split.load(path)
        if split.fingerprint != ds.fingerprint():
            raise UserError(
                f"{path}: split was made for another version of the dataset "
                f"({split.fingerprint} != {ds.fingerprint()}); make a new one with "
                "`postergenre data split`"
            )
        return split, False
    split = split_dataset(ds, folds, test, seed)
    split.save(path)
    return split, True
