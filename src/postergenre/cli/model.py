"""``postergenre train | predict | evaluate``: thin shells over ``training``, ``predict`` and
``evaluate``; values are validated by the library."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.table import Table

from ..data.options import DatasetOptions
from ..errors import UserError
from ..models.registry import MODULES
from ..models.space import LOSSES
from . import options as o
from .embed import AddressOpt, EngineName, EngineOpt, make_engine

if TYPE_CHECKING:
    from ..training.record import Stats

console = o.Output()
# the values a choice option takes (each arrives as the string given)
MODEL = click.Choice(list(MODULES))
HEAD_KIND = click.Choice(["mlp", "linear"])
LOSS = click.Choice(list(LOSSES))
FINAL = click.Choice(["cv-ensemble", "refit"])
PRECISION = click.Choice(["fp32", "int8"])


@o.dataset_options
def train(
    data_dir: o.DataDir,
    dataset: DatasetOptions,
    out: Annotated[Path, typer.Option(help="Run folder to write.")] = Path("runs/default"),
    split: Annotated[Path | None, typer.Option(
        help="Split file, made if absent (default: the run folder's split.json).")] = None,
    config: Annotated[Path | None, typer.Option(
        help="A config.json (from a run or `tune`); its values stand unless an option is given "
        "here.")] = None,
    model: Annotated[str | None, typer.Option(click_type=MODEL, help="What to train.")] = None,
    backbones: Annotated[str | None, typer.Option(help="Comma-separated backbones.")] = None,
    head: Annotated[str | None, typer.Option(click_type=HEAD_KIND, help="Head kind.")] = None,
    loss: Annotated[str | None, typer.Option(click_type=LOSS, help="Training loss.")] = None,
    tta: Annotated[bool | None, typer.Option(help="Average with the mirrored poster.")] = None,
    precision: Annotated[str | None, typer.Option(
        click_type=PRECISION,
        help="Backbone precision: int8 graphs are calibrated on 64 training posters [default: the "
        "config's].")] = None,
    ocr: Annotated[bool | None, typer.Option(
        help="Fusion also reads the text printed on each poster (OCR, about 0.2 s a poster the "
        "first time, cached).")] = None,
    neighbours: Annotated[bool | None, typer.Option(
        help="Blend in a vote of the training posters most like each poster (models head and "
        "fusion) [default: on].")] = None,
    final: Annotated[str | None, typer.Option(
        click_type=FINAL, help="Final model: the CV fold models averaged, or one refit.")] = None,
    train_subset: Annotated[int | None, typer.Option(
        help="Train on this many random training posters, 10 to 10**9 (the test part stays "
        "whole).")] = None,
    cv_rounds: Annotated[int | None, typer.Option(
        help="Run only the first N CV rounds, 1 to 20.")] = None,
    min_support: Annotated[int | None, typer.Option(
        help="Genres with fewer training examples are dropped, 1 to 10**9 [default: 50].")] = None,
    folds: Annotated[int | None, typer.Option(
        help="Folds, when a new split is made, 3 to 20 [default: 5].")] = None,
    test: Annotated[float | None, typer.Option(
        help="Test fraction, when a new split is made, 0.01 to 0.5 [default: 0.15].")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of training and of a new split, 0 to 2**32 - 1 [default: 0].")] = None,
    cache: o.CacheDir = None,
    engine: EngineOpt = EngineName.local,
    address: AddressOpt = None,
) -> None:
    """Cross-validate, make the final model, test it once, write the run folder and bundle.
    Values of --config stand unless an option is given here."""
    from ..atomic import check_output
    from ..data.splits import check_kept
    from ..training import TrainConfig
    from ..training import train as run_train
    from ..training.run import check_out

    check_out(out)  # before any work
    check_output(out, "--out")
    o.split_file(split)
    check_kept(split or out / "split.json", folds, test)
    cache = o.cache_dir(cache)
    runner = make_engine(engine, address)
    base = TrainConfig()
    if config:
        try:
            base = TrainConfig.from_json(json.loads(config.read_text()))
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise UserError(f"{config}: not a usable config ({e})") from None
    given = {
        "model": model, "tta": tta, "precision": precision, "final": final,
        "train_subset": train_subset,
        "cv_rounds": cv_rounds, "min_support": min_support, "folds": folds, "test": test,
        "seed": seed, "head.kind": head, "head.loss": loss, "neighbours.enabled": neighbours,
        "backbones": [b.strip() for b in backbones.split(",") if b.strip()]
        if backbones is not None else None,
    }
    cfg = _configured(base, {k: v for k, v in given.items() if v is not None})
    if ocr is not None:  # the model's own inputs, with or without the poster's text
        inputs = cfg.to_json().get("fusion", {}).get("inputs", [])
        cfg = _configured(cfg, {"fusion.inputs": [f for f in inputs if f != "ocr"]
                                + (["ocr"] if ocr else [])})
    ds = dataset.open(data_dir)
    record = run_train(ds, out, split, cfg, cache, engine=runner)
    cv, t = record.cv.summary.metrics, record.test
    console.print(
        f"CV ({record.cv.summary.n_folds} folds): macro mAP {_ms(cv.get('macro_map'))}, "
        f"macro-F1 {_ms(cv.get('macro_f1'))}, micro-F1 {_ms(cv.get('micro_f1'))}",
        highlight=False,
    )
    console.print(
        f"test: macro mAP {_f(t.macro_map)}, macro-F1 {_f(t.macro_f1)}, "
        f"micro-F1 {_f(t.micro_f1)} ({len(record.data.genres)} genres)",
        highlight=False,
    )
    console.print(f"run folder: {out}  model: {out / 'model'}  "
                  f"({record.timings['total_s']:.0f} s)", highlight=False)


OPTION = {"head.kind": "--head", "head.loss": "--loss", "fusion.inputs": "--ocr",
          "neighbours.enabled": "--neighbours"}


def _configured(base, values: dict):
    return o.configured(base, values, OPTION)


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ms(s: Stats | None) -> str:
    if s is None or s.std is None:
        return _f(None if s is None else s.mean)
    return f"{_f(s.mean)} ± {s.std:.3f}"


def predict(
    model: Annotated[Path, typer.Argument(help="Model bundle folder (a run's model/).")],
    inputs: Annotated[list[Path], typer.Argument(help="Poster files or folders.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV: file, genres, one column a genre.")
                      ] = False,
    top: Annotated[int | None, typer.Option(
        min=1, max=1000, help="Genres shown per poster in the table [default: 5].")] = None,
    side_by_side: Annotated[bool, typer.Option(
        help="Table of genres × posters, to compare poster variants.")] = False,
    rank_by: Annotated[str, typer.Option(
        help="Rank posters by how strongly they read as these genres, e.g. 'Family,Comedy' "
        "(mean probability).")] = "",
    batch_size: Annotated[int, typer.Option(min=1, max=1024,
                                            help="Posters per inference batch.")] = 8,
    title: Annotated[str | None, typer.Option(help="The movie's title (one poster).")] = None,
    year: Annotated[str | None, typer.Option(help="The movie's release year (one poster).")] = None,
    plot: Annotated[str | None, typer.Option(
        help="The movie's plot or synopsis (one poster).")] = None,
    metadata: o.MetadataTable = None,
    id_column: o.IdColumn = None,
    column: o.FieldColumns = None,
    engine: EngineOpt = EngineName.local,
    address: AddressOpt = None,
) -> int:
    """Genres of posters (with their title, year and plot when given): ranked probabilities
    and the decided set. Results go to stdout in input order, skipped files to stderr; exit
    code 1 when no poster could be read."""
    from ..bundle import load_bundle
    from ..predict import expand_inputs, file_records, predict_files, predict_records

    o.one_of(json=as_json, csv=as_csv, side_by_side=side_by_side, top=top is not None)
    o.one_of(json=as_json, csv=as_csv, rank_by=bool(rank_by))  # a table's order
    runner = make_engine(engine, address)
    bundle = load_bundle(model)
    files = []
    for item in inputs:
        found = expand_inputs([item])
        if item.is_dir() and not found:
            print(f"skipped {item}: a folder with no poster files", file=sys.stderr)
        files += found
    if not files:
        raise UserError("no poster files given")
    wanted = [g.strip() for g in rank_by.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in bundle.genres]
    if unknown:
        raise UserError(f"--rank-by: genre(s) {unknown} not in the model ({bundle.genres})")
    table, n_ok = [], 0
    writer = csv.writer(sys.stdout, lineterminator="\n")
    if as_csv:
        writer.writerow(["file", "genres", *bundle.genres, "error"])
    records = file_records(files, {"title": title, "year": year, "plot": plot}, metadata,
                           o.columns(id_column, column), [i["name"] for i in bundle.inputs])
    if records is not None and runner is not None:
        raise UserError("--engine ray predicts from poster files only; drop --title/--year/"
                        "--plot/--metadata or use --engine local")
    stream = (predict_files(bundle, files, batch_size=batch_size, engine=runner)
              if records is None else
              predict_records(bundle, records, [str(f) for f in files], batch_size))
    for p in stream:
        n_ok += p.error is None
        if p.error:
            print(f"skipped {p.source}: {p.error}", file=sys.stderr)
        if as_json:  # one line per input, errors included, so lines match inputs
            print(json.dumps(p.to_json()), flush=True)
        elif as_csv:
            probs = p.probabilities or {}
            writer.writerow([p.source, "|".join(p.genres),
                             *[round(probs[g], 4) if probs else "" for g in bundle.genres],
                             p.error or ""])
        elif not p.error:
            table.append(p)
    if table:
        _print_table(table, bundle.genres, wanted, top or 5, side_by_side)
    if not n_ok:
        print("error: none of the given posters could be read", file=sys.stderr)
        return 1
    return 0


def _print_table(preds: list, genres: list[str], wanted: list[str], top: int,
                 side_by_side: bool) -> None:
    def score(p) -> float:
        return sum(p.probabilities[g] for g in wanted) / len(wanted)

    if wanted:
        preds = sorted(preds, key=lambda p: -score(p))
    if side_by_side:
        table = Table(title="genre probabilities (* = decided)")
        table.add_column("genre")
        for name in o.short_names([p.source for p in preds]):
            table.add_column(name, justify="right", overflow="fold")
        for g in genres:
            table.add_row(
                g, *[f"{p.probabilities[g]:.2f}{'*' if g in p.genres else ''}" for p in preds]
            )
    else:
        table = Table()
        table.add_column("poster", overflow="fold")  # a name is never cut
        for col in ("genres", "top probabilities"):
            table.add_column(col)
        if wanted:
            table.add_column(f"score {'+'.join(wanted)}", justify="right")
        for p in preds:
            ranked = ", ".join(f"{g} {v:.2f}" for g, v in list(p.probabilities.items())[:top])
            row = [p.source, ", ".join(p.genres), ranked]
            if wanted:
                row.append(f"{score(p):.3f}")
            table.add_row(*row)
    console.print(table)


@o.dataset_options
def evaluate(
    model: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    data_dir: o.DataDir,
    dataset: DatasetOptions,
    split: Annotated[Path | None, typer.Option(help="Split file, to score one part.")] = None,
    part: Annotated[str | None, typer.Option(
        help="Part of the split to score [default: test].")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json/.md.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    allow_other_split: Annotated[bool, typer.Option(
        help="Score a split or dataset version other than the model's own (or a training "
             "part) anyway, saying how many scored posters it was trained on.")] = False,
) -> None:
    """Score a model bundle on a labelled dataset: F1s, mAP, per-genre AP/ROC AUC, ..."""
    from ..atomic import check_output, write_json, write_text
    from ..bundle import load_bundle
    from ..evaluate import evaluate_bundle, summary_line
    from ..evaluation import render_markdown

    if out is not None:
        check_output(out, "--out")
    parts, part = o.split_part(split, part)  # before the bundle and the dataset are read
    bundle = load_bundle(model)
    ds = dataset.open(data_dir)  # content hashes: the fingerprint the bundle recorded
    metrics = evaluate_bundle(bundle, ds, parts, part, allow_other_split=allow_other_split)
    if out:
        write_json(out / "metrics.json", metrics)
        write_text(out / "metrics.md",
                   render_markdown(metrics, None, None, title=f"{model} on {data_dir}"))
    for f, e in metrics["skipped_files"].items():
        print(f"skipped {f}: {e}", file=sys.stderr)
    for note in metrics["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if metrics["genres_not_in_model"]:
        print(f"note: genres not in the model, not scored: "
              f"{', '.join(metrics['genres_not_in_model'])}", file=sys.stderr)
    if as_json:
        print(json.dumps(metrics))
    else:
        console.print(summary_line(metrics), highlight=False)
