"""``postergenre report``: a run's report, or a folder's leaderboard, as one HTML file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def report(
    run_dir: Annotated[Path | None, typer.Argument(help="A finished run folder.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="HTML file to write (default: RUN_DIR/report.html, or FOLDER/leaderboard.html with "
        "--runs).")] = None,
    runs: Annotated[Path | None, typer.Option(
        help="A folder of run folders: write the leaderboard of their split instead.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Dataset folder, for the data section and posters (default: the one the run was "
        "trained on).")] = None,
    bootstrap: Annotated[int | None, typer.Option(
        min=100, max=100_000, help="Bootstrap resamples of the test movies, 100 to 100000 "
        "[default: 1000].")] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, max=2**32 - 1, help="Seed of the bootstrap, 0 to 2**32 - 1 [default: 0].")
    ] = None,
) -> None:
    """One self-contained HTML file that opens from disk: the data, the model's figures with
    95% bootstrap intervals, per-genre curves, examples and caveats of a finished run; or,
    with --runs, the leaderboard of a folder of runs. Nothing is retrained."""
    from ..errors import UserError
    from ..report import build_leaderboard, build_report

    t0 = time.perf_counter()
    if runs is not None and run_dir is None:
        one_run = {"--data": data, "--bootstrap": bootstrap, "--seed": seed}
        if given := [name for name, value in one_run.items() if value is not None]:
            raise UserError(f"{', '.join(given)}: for one run's report, not with --runs")
        _check_out(out, runs / "leaderboard.html")
        path = build_leaderboard(runs, out)
    elif run_dir is not None and runs is None:
        _check_out(out, run_dir / "report.html")
        path = build_report(run_dir, out, data, 1000 if bootstrap is None else bootstrap,
                            seed or 0)
    else:
        raise UserError("give a run folder or --runs FOLDER (not both)")
    print(f"report: {path} ({path.stat().st_size / 2**20:.1f} MB, "
          f"{time.perf_counter() - t0:.0f} s)")


def _check_out(out: Path | None, default: Path) -> None:
    """``--out``, else the default in a folder that exists, checked before any work."""
    from ..atomic import check_output

    if out is not None or default.parent.is_dir():
        check_output(out or default, "--out", folder=False)
