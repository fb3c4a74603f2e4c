"""``postergenre tune`` (hyperparameter search) and ``postergenre compare`` (leaderboard)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..data.options import DatasetOptions
from . import options as o
from .model import MODEL

console = o.Output()


@o.dataset_options
def tune(
    data_dir: o.DataDir,
    dataset: DatasetOptions,
    model: Annotated[str | None, typer.Option(
        click_type=MODEL, help="What to tune [default: the config's model, else head].")] = None,
    space: Annotated[str, typer.Option(
        help="Search space of the model (seed-cnn: prototype-grid, wide; head: default; finetune: "
        "default).")] = "",
    trials: Annotated[int | None, typer.Option(
        help="Finished trials the study should reach, over all workers: 1 to 100000, at most a "
        "grid's size (default: the grid's size, else 20).")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL shared by workers, e.g. sqlite:///tune.db or "
        "postgresql://user@host/db (default: OUT/tune.db).")] = None,
    study: Annotated[str | None, typer.Option(help="Study name (default: MODEL-SPACE).")] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (default: tune/STUDY).")] = None,
    split: Annotated[Path, typer.Option(help="Split file (made if absent).")] = Path("split.json"),
    config: Annotated[Path | None, typer.Option(
        help="Base config.json for every trial; its values stand unless an option is given "
        "here.")] = None,
    metric: Annotated[str, typer.Option(help="CV metric to optimise.")] = "macro_map",
    train_subset: Annotated[int | None, typer.Option(
        help="Tune on this many random training posters, 10 to 10**9 (all, when fewer).")] = None,
    cv_rounds: Annotated[int | None, typer.Option(
        help="CV rounds per trial, 1 to 20 (default, or more than the folds: all).")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Max epochs of seed-cnn/finetune (1 to 10000).")] = None,
    image_size: Annotated[int | None, typer.Option(
        help="seed-cnn input side, 22 to 1024 (square; the prototype: 200).")] = None,
    prune: Annotated[bool, typer.Option(help="Prune trials below the median.")] = True,
    seed: Annotated[int | None, typer.Option(help="Sampler seed, 0 to 2**32 - 1.")] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Stop this worker after N seconds (N > 0).")] = None,
    min_support: Annotated[int | None, typer.Option(
        help="Genres with fewer training examples are dropped, 1 to 10**9 [default: the config's, "
        "50].")] = None,
    cache: o.CacheDir = None,
) -> None:
    """Search hyperparameters with Optuna: CV on the training part only, resumable, shareable
    by several workers through --storage; writes trials.csv/.md, plots and best_config.json."""
    from ..atomic import check_output
    from ..errors import UserError
    from ..tuning import get_space, train_config
    from ..tuning import tune as run_tune
    from ..tuning.objective import check_metric
    from ..tuning.storage import check_storage
    from ..tuning.study import check_settings

    check_output(out or Path("tune"), "--out")
    o.split_file(split)
    cache = o.cache_dir(cache)
    if storage:
        check_storage(storage)
    cfg = train_config()
    if config:
        try:
            cfg = train_config(json.loads(config.read_text()))
        except (OSError, ValueError, UserError) as e:
            raise UserError(f"{config}: not a usable config ({e})") from None
    given = {"model": model, "min_support": min_support,
             "train_subset": train_subset, "cv_rounds": cv_rounds,
             "seed_cnn.image_hw": None if image_size is None else [image_size] * 2}
    # a config file's values stand unless an option is given
    cfg = o.configured(cfg, {k: v for k, v in given.items() if v is not None},
                     {"seed_cnn.image_hw": "--image-size"})
    if epochs is not None:  # the max epochs of the model's own network
        section = next((s for s in ("seed_cnn", "finetune") if s in cfg.to_json()), None)
        if section is None:
            raise UserError(f"--epochs is for seed-cnn and finetune, not {cfg.model!r}")
        cfg = o.configured(cfg, {f"{section}.max_epochs": epochs},
                         {f"{section}.max_epochs": "--epochs"})
    search = get_space(cfg.model, space or None)
    if epochs is not None:  # --epochs beats the epochs a space fixes
        capped = {k: epochs for k in search.fixed if k.endswith(".max_epochs")}
        search = dataclasses.replace(search, fixed={**search.fixed, **capped})
    try:  # before the dataset is read
        check_metric(metric)
    except ValueError as e:
        raise UserError(str(e)) from None
    check_settings(cfg, search, trials, seed, timeout)
    ds = dataset.open(data_dir)
    result = run_tune(
        ds,
        split,
        cfg,
        search,
        trials=trials,
        storage=storage,
        study_name=study,
        out=out,
        metric=metric,
        prune=prune,
        seed=seed,
        timeout=timeout,
        cache_dir=cache,
    )
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    console.print(f"study {result.study_name} ({result.storage}): {counts}", highlight=False)
    if result.best_value is not None:
        console.print(
            f"best {metric} {result.best_value:.4f}: {result.best_params}", highlight=False
        )
        console.print(
            f"report: {result.out}; train the best: postergenre train {data_dir} "
            f"--config {result.best_config} --split {split}",
            highlight=False,
        )


def compare(
    runs: Annotated[list[Path] | None, typer.Argument(help="Run folders.")] = None,
    runs_dir: Annotated[Path | None, typer.Option("--runs", help="A folder of run folders.")
                        ] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for leaderboard.md and leaderboard.csv.")] = None,
    split: Annotated[Path | None, typer.Option(
        help="Only runs on this split file (default: the split most runs share).")] = None,
    throughput: Annotated[bool, typer.Option(
        help="Measure predict throughput of bundles that have none recorded.")] = True,
    seconds: Annotated[float, typer.Option(
        help="Seconds per throughput measurement (above 0, at most 600).")] = 2.0,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Leaderboard: finished runs on the same split and genres side by side, with the trivial
    baselines; the others are listed as not comparable."""
    from ..atomic import check_output, write_text
    from ..compare import compare as run_compare
    from ..data.splits import Split
    from ..errors import UserError

    paths = list(runs or []) + ([runs_dir] if runs_dir else [])
    if not paths:
        raise UserError("give run folders or --runs FOLDER")
    if out is not None:
        check_output(out, "--out")
    fingerprint = Split.load(split).fingerprint if split else None  # a folder: one line
    board = run_compare(paths, fingerprint, measure=throughput, seconds=seconds)
    if out:
        write_text(out / "leaderboard.md", board.to_markdown())
        write_text(out / "leaderboard.csv", board.to_csv())
    if as_csv:
        print(board.to_csv(), end="")
        return
    header, rows = board.display_rows()
    shown = (
        "run",
        "model",
        "train posters",
        "genres",
        "device",
        "macro mAP CV",
        "macro mAP test",
        "macro ROC AUC test",
        "macro-F1 test",
        "micro-F1 test",
        "train time",
        "predict posters/s",
    )
    keep = [header.index(h) for h in shown]  # the rest (settings, …) is in the .md/.csv
    genres = f", {len(board.genres)} genres" if board.genres else ""
    table = Table(title=f"leaderboard (split {board.split_fingerprint}{genres})")
    for i in keep:
        table.add_column(header[i], justify="left" if i < 2 else "right",
                         overflow="fold" if i == 0 else "ellipsis")  # a run's name is never cut
    for row in rows:
        table.add_row(*[row[i] for i in keep])
    console.print(table)
    for run, why in board.refused.items():
        console.print(f"[yellow]not listed[/yellow] {escape(f'{run}: {why}')}", markup=True,
                      highlight=False)
    for note in board.notes:
        console.print(note, highlight=False)
    if out:
        console.print(f"written: {out / 'leaderboard.md'}, {out / 'leaderboard.csv'}")
