"""Where a benchmark's figures go: ``benchmarks/results/<name>.json``, written whole.

Every script in this folder ends with ``write_results(Path(__file__).stem, figures)``; the
record adds when, at which commit, on how many CPUs and with which arguments it was measured,
so a figure quoted in the docs can be traced to a run. ``benchmarks/tables.py`` renders these
files as the Markdown tables between ``<!-- table:NAME -->`` markers.

``figures`` is a JSON-able dict: scalars (one table of figure | value), dicts of scalars and
lists of flat dicts (one table each, a row per dict, columns in the order of the first row).
"""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from postergenre.atomic import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def commit() -> str | None:
    """The repository's HEAD commit (short), with ``+dirty`` if tracked files changed."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def write_results(name: str, figures: dict[str, Any], folder: Path = RESULTS) -> Path:
    """Write ``figures`` with their provenance to ``folder/<name>.json`` atomically (a reader
    sees the previous file or the whole new one); returns the path."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count()
    record = {
        "benchmark": name,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "command": " ".join(["python", f"benchmarks/{name}.py", *sys.argv[1:]]),
        "machine": {"cpus": cpus, "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "results": _finite(figures),
    }
    path = folder / f"{name}.json"
    write_json(path, record)
    print(f"results: {path}")
    return path


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None`` (JSON has neither) and tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item"):  # a numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
