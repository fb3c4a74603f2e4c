"""Command-line options shared by several commands, declared once.

``dataset_options`` adds the options that say how to read a dataset folder to a command and
hands the command one ``DatasetOptions``; the library validates everything else.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions

from ..atomic import check_output
from ..data.dataset import Columns
from ..data.options import DatasetOptions
from ..data.splits import TEST, Split
from ..errors import UserError

DataDir = Annotated[Path, typer.Argument(help="Dataset folder: images named by id plus a table.")]
MinSupport = Annotated[
    int, typer.Option("--min-support", help="Genres with fewer examples are dropped.")
]
CacheDir = Annotated[
    Path | None, typer.Option("--cache", help="Cache folder (default: ~/.cache/postergenre).")
]

UNLIMITED = 100_000  # columns through a pipe or into a file: a row is never cut


class Output(Console):
    """stdout as Rich sees it, except that through a pipe or into a file it has no width
    limit, so a long file name is printed whole (never cut with '…') and a row stays one
    line. Text is printed as it is (no markup unless asked for): a file named ``[/b].jpg``
    is a name, not a tag."""

    def __init__(self, **options) -> None:
        super().__init__(**{"markup": False, **options})

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNLIMITED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


def short_names(paths: list[str]) -> list[str]:
    """The fewest trailing parts of each path that tell it from the others (``a/poster.jpg``,
    ``b/poster.jpg``)."""
    parts = [Path(p).parts for p in paths]
    names = []
    for mine in parts:
        others = [p for p in parts if p != mine]
        k = next((k for k in range(1, len(mine)) if all(p[-k:] != mine[-k:] for p in others)),
                 len(mine))
        names.append(str(Path(*mine[-k:])) if mine else "")
    return names


IdColumn = Annotated[str | None, typer.Option(help="Id column (default: detected).")]
FieldColumns = Annotated[list[str] | None, typer.Option(
    "--column", help="FIELD=COLUMN: the column a metadata field (title, year, plot, ...) is read "
    "from (default: detected); repeat for several.")]
MetadataTable = Annotated[Path | None, typer.Option(
    help="A table of title/year/plot by id = poster file name without extension (many posters); "
    "its columns are detected, or named with --id-column and --column.")]


def columns(id_column: str | None, given: list[str] | None) -> Columns:
    """The metadata columns a command was given (``--id-column``, ``--column``)."""
    return Columns(id=id_column, fields=field_columns(given))


_DATASET_OPTIONS = {
    "labels": Annotated[
        Path | None, typer.Option("--labels", help="Table with the genres (default: detected).")
    ],
    "metadata": Annotated[
        list[Path] | None, typer.Option("--metadata", help="Extra table(s) with title/year/plot.")
    ],
    "images": Annotated[
        Path | None, typer.Option("--images", help="Image folder (default: the dataset folder).")
    ],
    "id_column": IdColumn,
    "genres_column": Annotated[
        str | None, typer.Option(help="Column of genre lists (default: detected).")
    ],
    "genre_columns": Annotated[
        str | None, typer.Option(help="Comma-separated 0/1 or ranked genre columns.")
    ],
    "column": FieldColumns,
}


def one_of(**given: bool) -> None:
    """``UserError`` when more than one of these options is given (``--name=given``)."""
    chosen = [f"--{name.replace('_', '-')}" for name, on in given.items() if on]
    if len(chosen) > 1:
        raise UserError(f"{' and '.join(chosen)} cannot go together; give one")


def field_columns(given: list[str] | None) -> dict[str, str]:
    """``["title=name", ...]`` -> ``{"title": "name"}`` (``UserError`` naming a bad one)."""
    out = {}
    for item in given or []:
        name, sep, col = item.partition("=")
        if not sep or not name.strip() or not col.strip():
            raise UserError(f"--column {item!r}: write FIELD=COLUMN, e.g. title=movie_name")
        out[name.strip().lower()] = col.strip()
    return out


def dataset_options(command):
    """Give ``command`` (which takes ``dataset: DatasetOptions``) the dataset options."""
    sig = inspect.signature(command, eval_str=True)
    params = [p for p in sig.parameters.values() if p.name != "dataset"]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                 annotation=kind) for name, kind in _DATASET_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..features import specs  # noqa: F401 - registers the inputs' dataset columns

        given = {name: kwargs.pop(name) for name in _DATASET_OPTIONS}
        cols = given["genre_columns"]
        columns = Columns(
            id=given["id_column"], genres=given["genres_column"],
            fields=field_columns(given["column"]),
            genre_columns=[c.strip() for c in cols.split(",") if c.strip()] if cols else None,
        )
        dataset = DatasetOptions(given["labels"], given["metadata"] or [], given["images"],
                                 columns)
        return command(*args, dataset=dataset, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


def split_file(path: Path | None, made: bool = True) -> None:
    """Refuse, before any work, a ``--split`` naming a folder or, when a missing split is
    ``made``, one that cannot be written."""
    if path is not None and (path.is_dir() or (made and not path.exists())):
        check_output(path, "--split", folder=False)


def split_part(split: Path | None, part: str | None) -> tuple[Split | None, str]:
    """The split (``--split``) and its part to score (``--part``, default test), checked
    before any work."""
    split_file(split, made=False)
    if part is not None and split is None:
        raise UserError("--part needs --split (the split file the part is of)")
    parts = Split.load(split) if split else None
    if parts is not None:
        parts.check_part(part or TEST)
    return parts, part or TEST


def cache_dir(given: Path | None) -> Path:
    """The cache folder (``--cache``, else the default), checked before any work."""
    from ..cache import default_cache_dir

    return check_output(given or default_cache_dir(), "--cache" if given else
                        "--cache (or $POSTERGENRE_CACHE)")


def configured(base, values: dict, options: dict[str, str]):
    """``base`` (a ``TrainConfig``) with ``values`` set; a bad or inapplicable one is a
    ``UserError`` naming its option (``options``: setting path -> option, else ``--path``)."""
    try:
        return base.with_values(values)
    except (ValueError, KeyError) as e:
        text = str(e.args[0] if e.args else e)
        name, _, rest = text.partition(" ")
        if name in values:
            option = options.get(name, "--" + name.replace("_", "-"))
            raise UserError(f"{option} {rest}") from None
        raise UserError(f"options: {text}") from None
