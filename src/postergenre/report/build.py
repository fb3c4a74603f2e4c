"""``build_report``: one finished run folder -> one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_text
from ..errors import UserError
from ..evaluation.bootstrap import bootstrap_intervals
from . import html as H
from .caveats import caveats_section
from .curves import calibration, confusion, curves, reliability, training_curves
from .data import data_section, labelled, train_counts
from .examples import examples_section
from .figures import genre_colours
from .load import load_run
from .model import ablation, overview, per_genre


def build_report(run_dir: Path, out: Path | None = None, data_dir: Path | None = None,
                 n_boot: int = 1000, seed: int = 0) -> Path:
    """Write the report of the run at ``run_dir`` to ``out`` (default RUN_DIR/report.html)
    and return its path. ``data_dir`` overrides the dataset folder the run records."""
    if not 100 <= n_boot <= 100_000:
        raise UserError(f"--bootstrap must be 100 to 100000 resamples, not {n_boot}")
    out = out or run_dir / "report.html"
    H.check_out(out)
    run = load_run(run_dir, data_dir)
    colours = genre_colours(run.genres)
    nums = H.Numbers(run.record)
    ci = bootstrap_intervals(run.y, run.prob, run.pred, run.genres, n_boot, seed)
    ece = {g: calibration(run.y[:, j], run.prob[:, j])["ece"] for j, g in enumerate(run.genres)}
    frame = labelled(run)
    diagnostics = ("<h3>Calibration</h3>" + reliability(run, nums, ci)
                   + "<h3>Which genres are predicted for which</h3>" + confusion(run, colours)
                   + "<h3>Ablation by inputs</h3>" + ablation(run, nums)
                   + "<h3>Training curves</h3>" + training_curves(run, nums))
    sections = [
        ("model", "The model in figures", overview(run, nums, ci)),
        ("caveats", "Caveats", caveats_section(run, nums, ci, calibration(run.y, run.prob)["ece"],
                                               train_counts(frame))),
        ("data", "The data", data_section(run, frame, nums, colours)),
        ("per-genre", "Per genre", per_genre(run, nums, colours, ci, ece) + curves(run, colours)),
        ("diagnostics", "Calibration, confusions, training", diagnostics),
        ("examples", "Examples from the test part", examples_section(run, nums, colours)),
    ]
    model = run.record.model
    subtitle = (f"run <b>{H.esc(run.name)}</b> · {H.esc(model.name)} "
                f"({H.esc(model.settings or '')}) · "
                f"{nums.metric('data', 'n_test', spec='d')} test movies · "
                f"split {H.esc(run.record.split.fingerprint)}")
    data = {"run": str(run.path.resolve()), "genres": run.genres, "colours": colours,
            "bootstrap": {"n_boot": n_boot, "seed": seed}, "derived": nums.derived}
    write_text(out, H.page(f"postergenre report: {run.name}", subtitle, sections, data,
                           run.notes))
    return out
