"""``postergenre train | predict | evaluate``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import options as o

console = Console()


def train(
    data_dir: o.DataDir,
    out: Annotated[Path, typer.Option(help="Run folder to write.")] = Path("runs/default"),
    split: o.SplitFile = Path("split.json"),
    backbones: Annotated[str, typer.Option(help="Comma-separated backbones.")] = "",
    head: Annotated[str, typer.Option(help="Head: mlp or linear.")] = "",
    loss: Annotated[str, typer.Option(help="bce, weighted_bce, focal or asl.")] = "",
    tta: Annotated[bool | None, typer.Option(help="Average with the mirrored poster.")] = None,
    config: Annotated[Path | None, typer.Option(help="A config.json from an earlier run.")] = None,
    model: Annotated[str, typer.Option(help="head (frozen features), seed-cnn or finetune.")] = "",
    train_subset: Annotated[
        int | None,
        typer.Option(
            help="Train on this many random training posters (the test part stays whole)."
        ),
    ] = None,
    cv_rounds: Annotated[int | None, typer.Option(help="Run only the first N CV rounds.")] = None,
    min_support: o.MinSupport = 50,
    folds: Annotated[int, typer.Option(help="Folds, when a new split is made.")] = 5,
    test: Annotated[float, typer.Option(help="Test fraction, when a new split is made.")] = 0.15,
    seed: Annotated[int, typer.Option(help="Seed of a new split and of training.")] = 0,
    cache: o.CacheDir = None,
    labels: o.Labels = None,
    metadata: o.Metadata = None,
    images: o.Images = None,
    id_column: o.IdColumn = None,
    genres_column: o.GenresColumn = None,
    genre_columns: o.GenreColumns = None,
) -> None:
    """Cross-validate, train the final model, test it once, write the run folder and bundle."""
    from ..errors import UserError
    from ..train import TrainConfig
    from ..train import train as run_train

    cfg = TrainConfig()
    if config:
        try:
            cfg = TrainConfig.from_json(json.loads(config.read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise UserError(f"{config}: not a usable config ({e})") from None
    if backbones:
        cfg.backbones = [b.strip() for b in backbones.split(",") if b.strip()]
    if head:
        cfg.head.kind = head
    if loss:
        cfg.head.loss = loss
    if tta is not None:
        cfg.tta = tta
    if model:
        cfg.model = model
    if train_subset is not None:
        cfg.train_subset = train_subset
    if cv_rounds is not None:
        cfg.cv_rounds = cv_rounds
    cfg.min_support, cfg.folds, cfg.test, cfg.seed = min_support, folds, test, seed
    try:
        cfg.head.__post_init__()
        cfg.__post_init__()
        _check_backbones(cfg.backbones)
    except ValueError as e:
        raise UserError(str(e)) from None
    ds = o.open_dataset(data_dir, labels, metadata, images, id_column, genres_column, genre_columns)
    summary = run_train(ds, out, split, cfg, cache)
    cv, t = summary["cv"]["summary"]["metrics"], summary["test"]
    rounds = summary["cv"]["summary"]["n_folds"]
    console.print(
        f"CV ({rounds} folds): macro mAP {_ms(cv['macro_map'])}, macro-F1 "
        f"{_ms(cv['macro_f1'])}, micro-F1 {_ms(cv['micro_f1'])}",
        highlight=False,
    )
    console.print(
        f"test: macro mAP {t['macro_map']:.3f}, macro-F1 {t['macro_f1']:.3f}, "
        f"micro-F1 {t['micro_f1']:.3f}",
        highlight=False,
    )
    console.print(
        f"run folder: {out}  model: {out / 'model'}  ({summary['timings']['total_s']:.0f} s)",
        highlight=False,
    )


def _ms(s: dict) -> str:
    return f"{s['mean']:.3f}" if s["std"] is None else f"{s['mean']:.3f} ± {s['std']:.3f}"


def _check_backbones(names: list[str]) -> None:
    from ..features.backbones import list_backbones

    unknown = [n for n in names if n not in list_backbones()]
    if unknown or not names:
        raise ValueError(f"unknown backbone(s) {unknown}; choose from {list_backbones()}")


def predict(
    model: Annotated[Path, typer.Argument(help="Model bundle folder (a run's model/).")],
    inputs: Annotated[list[Path], typer.Argument(help="Poster files or folders.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV: file, genres, one column a genre.")
    ] = False,
    top: Annotated[int, typer.Option(help="Genres shown per poster in the table.")] = 5,
    side_by_side: Annotated[
        bool, typer.Option(help="Table of genres × posters, to compare poster variants.")
    ] = False,
    rank_by: Annotated[
        str,
        typer.Option(
            help="Rank posters by how strongly they read as these genres, e.g. "
            "'Family,Comedy' (mean probability)."
        ),
    ] = "",
    batch_size: Annotated[int, typer.Option(help="Posters per inference batch.")] = 8,
) -> None:
    """Genres of posters: ranked probabilities and the decided set."""
    from ..bundle import load_bundle
    from ..errors import UserError
    from ..predict import expand_inputs, predict_files

    bundle = load_bundle(model)
    files = expand_inputs(inputs)
    if not files:
        raise UserError("no poster files given")
    wanted = [g.strip() for g in rank_by.split(",") if g.strip()]
    unknown = [g for g in wanted if g not in bundle.genres]
    if unknown:
        raise UserError(f"--rank-by: genre(s) {unknown} not in the model ({bundle.genres})")
    stream = predict_files(bundle, files, batch_size=batch_size)
    if as_json:
        for p in stream:
            if p.error:
                print(f"skipped {p.file}: {p.error}", file=sys.stderr)
            print(json.dumps(p.to_json()), flush=False)
        return
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["file", "genres", *bundle.genres, "error"])
        for p in stream:
            probs = p.probabilities or {}
            writer.writerow(
                [
                    p.file,
                    "|".join(p.genres),
                    *[probs.get(g, "") for g in bundle.genres],
                    p.error or "",
                ]
            )
        return
    preds = list(stream)
    for p in preds:
        if p.error:
            console.print(f"[red]skipped[/red] {p.file}: {p.error}", highlight=False)
    preds = [p for p in preds if not p.error]
    if wanted:
        preds.sort(key=lambda p: -sum(p.probabilities[g] for g in wanted) / len(wanted))
    if side_by_side:
        table = Table(title="genre probabilities (* = decided)")
        table.add_column("genre")
        for p in preds:
            table.add_column(Path(p.file).name, justify="right")
        for g in bundle.genres:
            table.add_row(
                g, *[f"{p.probabilities[g]:.2f}{'*' if g in p.genres else ''}" for p in preds]
            )
    else:
        table = Table()
        for col in ("poster", "genres", "top probabilities"):
            table.add_column(col)
        if wanted:
            table.add_column(f"score {'+'.join(wanted)}", justify="right")
        for p in preds:
            ranked = ", ".join(f"{g} {v:.2f}" for g, v in list(p.probabilities.items())[:top])
            row = [p.file, ", ".join(p.genres), ranked]
            if wanted:
                row.append(f"{sum(p.probabilities[g] for g in wanted) / len(wanted):.3f}")
            table.add_row(*row)
    console.print(table)


def evaluate(
    model: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    data_dir: o.DataDir,
    split: Annotated[Path | None, typer.Option(help="Split file, to score one part.")] = None,
    part: Annotated[str, typer.Option(help="Part of the split to score.")] = "test",
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json/.md.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    labels: o.Labels = None,
    metadata: o.Metadata = None,
    images: o.Images = None,
    id_column: o.IdColumn = None,
    genres_column: o.GenresColumn = None,
    genre_columns: o.GenreColumns = None,
) -> None:
    """Score a model bundle on a labelled dataset: F1s, mAP, per-genre AP/ROC AUC, …"""
    from ..atomic import write_json, write_text
    from ..bundle import load_bundle
    from ..data.splits import Split
    from ..evaluate import evaluate_bundle, summary_line
    from ..evaluation import render_markdown

    bundle = load_bundle(model)
    ds = o.open_dataset(
        data_dir,
        labels,
        metadata,
        images,
        id_column,
        genres_column,
        genre_columns,
        hash_contents=False,
    )
    metrics = evaluate_bundle(bundle, ds, Split.load(split) if split else None, part)
    if out:
        write_json(out / "metrics.json", metrics)
        write_text(
            out / "metrics.md", render_markdown(metrics, None, None, title=f"{model} on {data_dir}")
        )
    if as_json:
        print(json.dumps(metrics))
    else:
        for f, e in metrics["skipped_files"].items():
            console.print(f"[red]skipped[/red] {f}: {e}", highlight=False)
        console.print(summary_line(metrics), highlight=False)
