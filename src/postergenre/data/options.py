"""``DatasetOptions``: how to read a dataset folder, as one object every command shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .dataset import Columns, Dataset, load_dataset


@dataclass(frozen=True)
class DatasetOptions:
    """Which tables, images and columns make the dataset; ``None`` means detect."""

    labels: Path | None = None
    metadata: list[Path] = field(default_factory=list)
    images: Path | None = None
    id_column: str | None = None
    genres_column: str | None = None
    genre_columns: list[str] | None = None
    title_column: str | None = None
    year_column: str | None = None
    plot_column: str | None = None

    def open(self, root: Path, hash_contents: bool = True) -> Dataset:
        columns = Columns(
            id=self.id_column,
            genres=self.genres_column,
            genre_columns=self.genre_columns,
            title=self.title_column,
            year=self.year_column,
            plot=self.plot_column,
        )
        return load_dataset(
            root, self.labels, self.metadata or None, self.images, columns, hash_contents
        )
