"""Named model inputs with presence masks: what every model reads.

``Inputs`` holds one array per input name, one row per movie, and a boolean mask per name
saying which rows have that input. A movie without a plot, say, keeps its row: its plot row
is zeros and its mask is False. Models that cannot do without an input say so
(``required``), and training drops (and reports) only the movies missing one of those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Inputs:
    """``{name: array}`` with equal row counts, plus ``masks[name]`` (bool, one per row)."""

    arrays: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]

    def __post_init__(self):
        if set(self.arrays) != set(self.masks):
            raise ValueError(f"inputs {sorted(self.arrays)} and masks {sorted(self.masks)} differ")
        lengths = {len(a) for a in self.arrays.values()} | {len(m) for m in self.masks.values()}
        if len(lengths) > 1:
            raise ValueError(f"inputs differ in row count: {sorted(lengths)}")
        for name, mask in self.masks.items():
            if mask.dtype != bool or mask.ndim != 1:
                raise ValueError(f"mask of input {name!r} must be a 1-d bool array")

    @classmethod
    def complete(cls, **arrays: np.ndarray) -> Inputs:
        """Inputs that every row has."""
        return cls(dict(arrays), {k: np.ones(len(a), bool) for k, a in arrays.items()})

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"no input {name!r}; have {sorted(self.arrays)}")
        return self.arrays[name]

    def __len__(self) -> int:
        """The number of rows (movies)."""
        return len(next(iter(self.masks.values()))) if self.masks else 0

    @property
    def names(self) -> list[str]:
        return list(self.arrays)

    def take(self, rows: np.ndarray) -> Inputs:
        """The given rows (an index array or a boolean mask) of every input."""
        return Inputs({k: a[rows] for k, a in self.arrays.items()},
                      {k: m[rows] for k, m in self.masks.items()})

    def select(self, names: list[str]) -> Inputs:
        """Only the named inputs (``KeyError`` naming the first one missing)."""
        return Inputs({k: self[k] for k in names}, {k: self.masks[k] for k in names})
