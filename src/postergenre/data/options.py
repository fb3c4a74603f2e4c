"""``DatasetOptions``: how to read a dataset folder, as one object every command shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .dataset import Columns, Dataset, load_dataset


@dataclass(frozen=True)
class DatasetOptions:
    """Which tables and images make the dataset, and which columns (``None``: detect)."""

    labels: Path | None = None
    metadata: list[Path] = field(default_factory=list)
    images: Path | None = None
    columns: Columns = field(default_factory=Columns)

    def open(self, root: Path, hash_contents: bool = True) -> Dataset:
        return load_dataset(root, self.labels, self.metadata or None, self.images, self.columns,
                            hash_contents)
