"""Command-line options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..data.dataset import Columns, Dataset, load_dataset

DataDir = Annotated[Path, typer.Argument(help="Dataset folder: images named by id plus a table.")]
Labels = Annotated[
    Path | None, typer.Option("--labels", help="Table with the genres (default: detected).")
]
Metadata = Annotated[
    list[Path] | None, typer.Option("--metadata", help="Extra table(s) with title/year/plot.")
]
Images = Annotated[
    Path | None, typer.Option("--images", help="Image folder (default: the dataset folder).")
]
IdColumn = Annotated[str | None, typer.Option("--id-column", help="Id column (default: detected).")]
GenresColumn = Annotated[
    str | None, typer.Option("--genres-column", help="Column of genre lists (default: detected).")
]
GenreColumns = Annotated[
    str | None,
    typer.Option("--genre-columns", help="Comma-separated 0/1 or ranked genre columns."),
]
TitleColumn = Annotated[str | None, typer.Option("--title-column")]
YearColumn = Annotated[str | None, typer.Option("--year-column")]
PlotColumn = Annotated[str | None, typer.Option("--plot-column")]
MinSupport = Annotated[
    int, typer.Option("--min-support", help="Genres with fewer examples are dropped.")
]
SplitFile = Annotated[Path, typer.Option("--split", help="Split file (made if absent).")]
CacheDir = Annotated[
    Path | None, typer.Option("--cache", help="Cache folder (default: ~/.cache/postergenre).")
]


def open_dataset(
    data_dir: Path,
    labels: Path | None = None,
    metadata: list[Path] | None = None,
    images: Path | None = None,
    id_column: str | None = None,
    genres_column: str | None = None,
    genre_columns: str | None = None,
    title_column: str | None = None,
    year_column: str | None = None,
    plot_column: str | None = None,
    hash_contents: bool = True,
) -> Dataset:
    columns = Columns(
        id=id_column,
        genres=genres_column,
        genre_columns=[c.strip() for c in genre_columns.split(",")] if genre_columns else None,
        title=title_column,
        year=year_column,
        plot=plot_column,
    )
    return load_dataset(data_dir, labels, metadata, images, columns, hash_contents)
