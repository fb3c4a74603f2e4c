"""``postergenre data ...``: check a dataset folder, make the split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..atomic import check_output, write_json
from ..data.check import check_dataset
from ..data.options import DatasetOptions
from ..data.splits import check_settings, split_dataset
from ..errors import UserError
from . import options as o

app = typer.Typer(help="Inspect datasets and make splits.", no_args_is_help=True)
console = o.Output()


@app.command()
@o.dataset_options
def check(
    data_dir: o.DataDir,
    dataset: DatasetOptions,
    out: Annotated[Path, typer.Option(help="Folder for check.json and the genre chart.")] = Path(
        "reports/data-check"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_support: o.MinSupport = 50,
) -> None:
    """Decode every image and report counts, bad files, duplicates and genre statistics."""
    from ..evaluation.plots import plot_genre_counts

    start = time.perf_counter()
    if not 1 <= min_support <= 10**9:
        raise UserError(f"--min-support must be from 1 to 10**9, not {min_support}")
    check_output(out, "--out")
    ds = dataset.open(data_dir, hash_contents=False)
    report = check_dataset(ds, min_support, progress=not as_json)
    chart = out / "genre_counts.png"
    plot_genre_counts(report["genre_counts"], chart)
    report["chart"] = str(chart)
    report["seconds"] = round(time.perf_counter() - start, 2)
    write_json(out / "check.json", report)
    if as_json:
        print(json.dumps(report))
    else:
        _print_check(report, out)


def _print_check(r: dict, out: Path) -> None:
    t = Table(title=f"Dataset {r['dataset']}", show_header=False)
    rows = [
        ("images found", r["images_found"]),
        ("decodable", r["decodable"]),
        ("corrupt / unreadable", len(r["corrupt"])),
        ("images without labels", len(r["images_without_labels"])),
        ("labels without images", len(r["labels_without_images"])),
        ("images with an empty genre list", len(r["images_with_empty_genres"])),
        ("duplicate groups (files)", f"{len(r['duplicate_groups'])} ({r['duplicate_files']})"),
        ("labelled and decodable", r["labelled_decodable"]),
        ("genres per poster (mean)", f"{r['genres_per_poster']['mean']:.2f}"),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)
    for c in r["corrupt"][:50]:
        console.print(f"[red]bad file[/red] {escape(c['file'])}: {escape(c['reason'])}",
                      markup=True, highlight=False)
    if len(r["corrupt"]) > 50:
        console.print(f"... and {len(r['corrupt']) - 50} more (see check.json)")
    for g in r["duplicate_groups"][:10]:
        console.print(f"duplicate group {g['sha256'][:12]}: {', '.join(g['ids'])}", highlight=False)
    if len(r["duplicate_groups"]) > 10:
        console.print(f"... and {len(r['duplicate_groups']) - 10} more groups (see check.json)")
    g = Table(title="Genres")
    for col in ("genre", "posters", "share", "kept"):
        g.add_column(col, justify="right" if col != "genre" else "left")
    n = max(r["labelled_decodable"], 1)
    kept = set(r["vocabulary"]["kept"])
    for name, count in r["genre_counts"].items():
        g.add_row(name, str(count), f"{count / n:.1%}", "yes" if name in kept else "dropped")
    console.print(g)
    dropped = r["vocabulary"]["dropped"]
    if dropped:
        console.print(
            f"{len(dropped)} genres under --min-support {r['vocabulary']['min_support']} are "
            f"dropped from training: {', '.join(f'{k} ({v})' for k, v in dropped.items())}"
        )
    for note in r["notes"]:
        console.print(f"note: {note}", highlight=False)
    console.print(f"chart: {r['chart']}  report: {out / 'check.json'}  ({r['seconds']} s)")


@app.command()
@o.dataset_options
def split(
    data_dir: o.DataDir,
    dataset: DatasetOptions,
    out: Annotated[Path, typer.Option(
        help="Where to save the split (a new file: an existing one is not "
        "replaced).")] = Path("split.json"),
    folds: Annotated[int, typer.Option(help="Cross-validation folds, 3 to 20.")] = 5,
    test: Annotated[float, typer.Option(
        help="Fraction held out as the test part, 0.01 to 0.5.")] = 0.15,
    seed: Annotated[int, typer.Option(help="Random seed, 0 to 2**32 - 1.")] = 0,
) -> None:
    """Make a deterministic stratified k-fold + test split, duplicates kept together."""
    check_output(out, "--out", folder=False)
    if out.exists():  # runs may have used its test part: a new split gets a new name
        raise UserError(f"{out}: exists; a split is not replaced (choose another --out)")
    check_settings(folds, test, seed)
    ds = dataset.open(data_dir)
    s = split_dataset(ds, folds, test, seed)
    s.save(out)
    counts = {p: len(s.ids(p)) for p in ["test", *s.fold_names()]}
    console.print(
        f"split of {len(s.parts)} labelled posters (seed {seed}): "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"; {len(ds.unlabelled_ids)} unlabelled left out; saved to {out}",
        highlight=False,
    )
