"""Render the docs' measured tables from data, so no figure is typed by hand.

    python benchmarks/tables.py                          # benchmark tables from results/*.json
    python benchmarks/tables.py --runs runs/fusion runs/default   # ... and the headline table
    python benchmarks/tables.py --check [--runs ...]     # exit 1 if a file is out of date

A table lives in a Markdown file between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->``;
everything between the two markers is replaced. ``NAME`` is

- ``headline``: test macro mAP, macro-F1 and micro-F1 of each run folder given to ``--runs``
  (read through the run record, ``postergenre.training.record``), in that order, then the
  trivial baselines of the first run. The runs must share one split. Without ``--runs`` it is
  left as it is.
- ``bench_<x>``: the figures ``benchmarks/bench_<x>.py`` wrote to
  ``benchmarks/results/bench_<x>.json`` (``benchmarks/results.py``), with when, at which
  commit and how they were measured; a note saying how to measure them if there is none.

The files are README.md and docs/*.md unless ``--files`` names others.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from postergenre.atomic import write_text
from postergenre.errors import UserError
from postergenre.evaluation.metrics import LABELS
from postergenre.training.record import RunRecord, Scores, read_record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REGION = re.compile(r"<!-- table:(?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /table:(?P=name) -->",
                    re.DOTALL)
SHOWN = ("macro_map", "macro_f1", "micro_f1")  # the headline table's test figures
NUMBER = re.compile(r"-?[\d,]*\.?\d+")


class TableError(Exception):
    """A table that cannot be rendered: the message says why."""


def fmt(value: Any) -> str:
    """One cell: integers with thousands separators, floats to three significant places
    (fewer decimals for large values), lists joined by " / ", nothing as "–"."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return " / ".join(fmt(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows``: columns in order of first appearance, a missing cell
    as "–", numeric columns right-aligned."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    def is_number(v: Any) -> bool:
        return ((isinstance(v, int | float) and not isinstance(v, bool))
                or (isinstance(v, str) and NUMBER.fullmatch(v) is not None))

    numeric = [all(is_number(r.get(c)) for r in rows if r.get(c) is not None) for c in columns]
    lines = ["| " + " | ".join(fmt(c) for c in columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def read_run(run: str) -> RunRecord:
    """The run folder's record, validated (``TableError`` naming the file and the key)."""
    try:
        return read_record(Path(run))
    except UserError as e:
        raise TableError(str(e)) from e


def metric(value: Any) -> str | None:
    """A metric to three decimals, as every table of metrics in the docs shows them."""
    return f"{value:.3f}" if isinstance(value, int | float) else None


def headline(runs: list[str]) -> str:
    """The headline table of ``runs`` (paths as given), with the first run's baselines."""
    records = [read_run(r) for r in runs]
    splits = {r.split.fingerprint for r in records}
    if len(splits) > 1:
        raise TableError(f"the runs are on different splits ({', '.join(sorted(splits))}); "
                         "a headline table compares one test part")

    def row(model: str, run: str, test: Scores) -> dict:
        return {"model": model, "run": run,
                **{f"test {LABELS[key]}": metric(getattr(test, key)) for key in SHOWN},
                "test ECE": metric(test.ece)}

    rows = [row(r.model.name, f"`{run}`", r.test) for run, r in zip(runs, records, strict=True)]
    for name, base in records[0].baselines.items():
        label = ("baseline: always {" + ", ".join(base.baseline.label_set) + "}"
                 if name == "best_constant" else f"baseline: {name} (scores = training "
                 "prevalence)")
        rows.append(row(label, "–", base))
    first = records[0]
    where = f"Test part of split {first.split.fingerprint} ({first.data.n_test:,} movies)"
    note = (f"_{where}; `python benchmarks/tables.py --runs {' '.join(runs)}` "
            "writes this table._")
    return markdown(rows) + "\n\n" + note


def bench_table(name: str, results: Path) -> str:
    """The tables of one benchmark's results file, or how to make it."""
    path = results / f"{name}.json"
    if not path.is_file():
        return (f"_Not measured yet: `python benchmarks/{name}.py` (see its docstring for "
                f"the arguments) writes `benchmarks/results/{name}.json`._")
    try:
        record = json.loads(path.read_text())
        figures = record["results"]
    except (OSError, ValueError, KeyError) as e:
        raise TableError(f"{path}: not a results file ({e})") from e
    machine = record.get("machine") or {}
    parts = [f"_Measured {str(record.get('measured', '?'))[:10]} at commit "
             f"{record.get('commit') or '?'} on {machine.get('cpus', '?')} CPUs: "
             f"`{record.get('command', name)}`._"]
    def is_table(v: Any) -> bool:
        return isinstance(v, dict) or (isinstance(v, list) and
                                       any(isinstance(x, dict) for x in v))

    scalars = [{"figure": k, "value": v} for k, v in figures.items() if not is_table(v)]
    if scalars:
        parts.append(markdown(scalars))
    for key, value in figures.items():
        if isinstance(value, dict):
            parts += [f"**{key}**", markdown([{"figure": k, "value": v}
                                              for k, v in value.items()])]
        elif is_table(value):
            parts += [f"**{key}**", markdown([x for x in value if isinstance(x, dict)])]
    return "\n\n".join(parts)


def render(text: str, runs: list[str] | None, results: Path) -> str:
    """``text`` with every table region it has rendered anew (``headline`` only with runs)."""
    def one(match: re.Match) -> str:
        name = match["name"]
        if name == "headline":
            if runs is None:
                return match[0]
            body = headline(runs)
        elif name.startswith("bench_"):
            body = bench_table(name, results)
        else:
            raise TableError(f"unknown table {name!r}: headline or bench_<name>")
        return f"<!-- table:{name} -->\n{body}\n<!-- /table:{name} -->"

    return REGION.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", metavar="RUN", help="run folders of the headline table")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    ap.add_argument("--files", nargs="+", type=Path, help="default: README.md and docs/*.md")
    ap.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    files = args.files or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    stale = []
    try:
        for path in files:
            text = path.read_text()
            new = render(text, args.runs, args.results)
            if new != text:
                stale.append(path)
                if not args.check:
                    write_text(path, new)
    except (TableError, OSError) as e:
        print(f"tables: {e}", file=sys.stderr)
        return 2
    for path in stale:
        print(f"{path}: {'out of date' if args.check else 'updated'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
