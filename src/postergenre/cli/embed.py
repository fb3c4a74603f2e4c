"""``postergenre embed``: make a model's cached inputs (backbone embeddings, pixels) for a
folder or a table of posters, here or as Ray tasks, so that ``train`` only reads them; and
the ``--engine``/``--address`` options ``train`` and ``predict`` share with it."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UserError
from . import options as o

EngineName = Enum("EngineName", {"local": "local", "ray": "ray"}, type=str)
EngineOpt = Annotated[EngineName, typer.Option(
    help="Where the per-poster work runs: here, or as Ray tasks (pip install 'postergenre[ray]').")]
AddressOpt = Annotated[str | None, typer.Option(
    help="Ray cluster to join, e.g. HEAD:6379 (default: $RAY_ADDRESS, else a new Ray on this "
    "machine).")]


def make_engine(engine: EngineName, address: str | None):
    """``None`` for the local path, else a ``RayEngine`` (one-line error when Ray is absent)."""
    if engine == EngineName.local:
        if address:
            raise UserError("--address needs --engine ray")
        return None
    from ..features.engine import RayEngine

    return RayEngine(address)


def embed(
    posters: Annotated[Path, typer.Argument(
        help="A folder of posters (a dataset folder), or a table (CSV, Parquet, ...) with a "
        "column of poster paths.")],
    column: Annotated[str | None, typer.Option(
        help="The table's column of poster paths (relative ones: to the table's folder) "
        "[default: path].")] = None,
    config: Annotated[Path | None, typer.Option(
        help="A config.json (from a run or `tune`): make what its model reads.")] = None,
    model: Annotated[str | None, typer.Option(
        help="Model whose inputs to make: head, seed-cnn or finetune [default: the config's, else "
        "head].")] = None,
    backbones: Annotated[str | None, typer.Option(
        help="Comma-separated backbones of a head model.")] = None,
    tta: Annotated[bool | None, typer.Option(
        help="Embeddings averaged with the mirrored poster's.")] = None,
    precision: Annotated[str | None, typer.Option(
        help="Backbone precision, fp32 or int8 (int8 rows are made by `train`: it calibrates on "
        "the split's training posters).")] = None,
    engine: EngineOpt = EngineName.local,
    address: AddressOpt = None,
    cache: o.CacheDir = None,
) -> int:
    """Compute what is missing from the cache for every input the model reads; a later
    `train` with the same --cache reads it instead of running the backbones. Skipped files
    go to stderr; exit code 1 when no poster could be used."""
    from ..features.producer import produce_files
    from ..models.registry import get_model
    from ..training import TrainConfig

    runner = make_engine(engine, address)  # before any work: a missing Ray fails here
    cache_dir = o.cache_dir(cache)
    cfg = TrainConfig()
    try:
        if config:
            cfg = TrainConfig.from_json(json.loads(config.read_text()))
        given = {"model": model, "tta": tta, "precision": precision,
                 "backbones": None if backbones is None else
                 [b.strip() for b in backbones.split(",") if b.strip()]}
        cfg = cfg.with_values({k: v for k, v in given.items() if v is not None})
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise UserError(f"options: {e}") from None
    files = _poster_files(posters, column)
    skipped: dict = {}
    for source in get_model(cfg.model).inputs(cfg.settings):
        if getattr(source, "precision", None) == "int8":
            print(f"{source.name} calibrates on a split's training posters: `train` makes it")
            continue
        producer = source.producer(None, cache_dir)
        if producer is None:  # made from a table's text or numbers
            print(f"{source.name}: not made from poster files alone; `train` makes it")
            continue
        t0 = time.perf_counter()
        _, failed = produce_files(producer, files, None, engine=runner, fetch=False)
        skipped.update(failed)
        print(f"{source.name}: {len(files) - len(failed)} of {len(files)} posters in "
              f"{producer.store.dir} ({time.perf_counter() - t0:.1f} s)")
    for path, why in skipped.items():
        print(f"skipped {path}: {why}", file=sys.stderr)
    if len(skipped) == len(set(files)):
        print("error: none of the posters could be used", file=sys.stderr)
        return 1
    return 0


def _poster_files(posters: Path, column: str | None) -> list[Path]:
    """The image files under a folder, or the paths in a table's ``column``."""
    from ..data import table
    from ..predict import expand_inputs

    if posters.is_dir():
        if column is not None:
            raise UserError(f"--column is for a table of poster paths; {posters} is a folder")
        files = expand_inputs([posters])
    elif not posters.exists():
        raise UserError(f"{posters}: no such file or folder")
    else:
        df = table.read_table(posters)
        column = column or "path"
        table.require_column(df, column, posters, "--column")
        files = [posters.parent / str(v) for v in df[column] if not table.is_null(v)]
    if not files:
        raise UserError(f"{posters}: no poster files")
    return files
