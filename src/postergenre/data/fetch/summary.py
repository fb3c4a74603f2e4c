"""The record of a run: what was selected, what became of each id, and the report files."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...atomic import write_json, write_with
from ..dataset import find_tables
from ..images import IMAGE_SUFFIXES
from .failures import FetchFailure, hint
from .options import FetchOptions
from .pool import Outcome
from .storage import Layout, manifest_row
from .urls import is_blank

FAILURE_COLUMNS = ["id", "url", "reason", "attempts", "detail"]


@dataclass
class Selection:
    """The rows a run works on and how they were chosen."""

    table: Path
    rows_in: int  # rows in the table before filtering
    columns: dict[str, str]  # {"id": ..., "url": ...}
    steps: list[dict]  # each filter: what, column, rows removed and kept
    frame: pd.DataFrame  # the selected rows, original columns
    ids: list[str]  # one per selected row, unique
    cells: list[object]  # the URL cell of each id, as in the table

    @property
    def urls(self) -> dict[str, str]:
        """id → the URL cell as text ('' when blank)."""
        cells = zip(self.ids, self.cells, strict=True)
        return {i: "" if is_blank(v) else str(v).strip() for i, v in cells}


@dataclass
class Tally:
    """What became of each selected id: present (id → manifest row) or failed."""

    present: dict[str, dict]
    already: int  # present before this run
    downloaded: int = 0
    failures: dict[str, tuple[str, FetchFailure, int]] = field(default_factory=dict)
    # id → (URL cell, failure, attempts)

    def record(self, o: Outcome, urls: dict[str, str]) -> None:
        if o.failure is not None:
            for id_ in o.job.ids:
                self.failures[id_] = (urls[id_], o.failure, o.attempts)
        elif o.sha256 is not None and o.size is not None:  # a download: files, hash, size
            for id_, path in zip(o.job.ids, o.files, strict=False):
                self.present[id_] = manifest_row(id_, path, urls[id_], o.sha256, o.size)
                self.downloaded += 1


def write_reports(
    sel: Selection, layout: Layout, tally: Tally, opts: FetchOptions, seconds: float
) -> dict:
    """Write ``failures.csv`` and ``report.json``; returns the report."""
    reasons = Counter(f.reason for _, f, _ in tally.failures.values())
    report = {
        "table": str(sel.table),
        "out": str(layout.out),
        "columns": sel.columns,
        "rows_in_table": sel.rows_in,
        "filters": sel.steps,
        "rows_selected": len(sel.ids),
        "posters": {
            "present": len(tally.present),
            "downloaded": tally.downloaded,
            "already_present": tally.already,
            "failed": len(tally.failures),
        },
        "failures_by_reason": dict(reasons.most_common()),
        "hints": {r: hint(r) for r in reasons},
        "duplicates": duplicates(sel.ids, tally.present),
        "notes": notes(layout, set(sel.ids)),
        "files": {
            "table": str(layout.table),
            "posters": str(layout.posters),
            "failures": str(layout.failures),
            "manifest": str(layout.manifest),
        },
        "options": opts.as_dict(),
        "seconds": seconds,
    }
    rows = [(i, u, f.reason, n, f.detail) for i, (u, f, n) in sorted(tally.failures.items())]
    frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
    write_with(layout.failures, lambda tmp: frame.to_csv(tmp, index=False))
    write_json(layout.report, report)
    return report


def duplicates(ids: list[str], present: dict[str, dict]) -> list[dict]:
    """Groups of ids whose posters are byte-identical (box-set covers, placeholders)."""
    by_hash = defaultdict(list)
    for i in ids:
        if i in present:
            by_hash[present[i]["sha256"]].append(i)
    groups = [{"sha256": h, "ids": sorted(g)} for h, g in by_hash.items() if len(g) > 1]
    return sorted(groups, key=lambda d: (-len(d["ids"]), d["ids"][0]))


def notes(layout: Layout, wanted: set[str]) -> list[str]:
    """What else in the folder ``load_dataset`` will see: stray posters, other tables."""
    found = []
    strays = sorted(
        p.name
        for p in layout.posters.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.stem not in wanted
    )
    if strays:
        found.append(
            f"{len(strays)} poster file(s) in {layout.posters} are not in the filtered table "
            f"(left in place; load_dataset sees them as unlabelled), e.g. {', '.join(strays[:5])}"
        )
    other_tables = [p.name for p in find_tables(layout.out) if p.name != layout.table.name]
    if other_tables:
        found.append(f"load_dataset also reads the other tables in {layout.out}: {other_tables}")
    return found
