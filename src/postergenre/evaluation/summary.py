"""Turn metric dicts (``compute_metrics``, ``summarise_folds``, ``evaluate_baselines``) into a
Markdown summary (a run's ``metrics.md``), or a ``rich`` table for the terminal.

The per-genre "baseline AP" is the genre's prevalence in the evaluation set: that is exactly
the AP of any score that ignores the poster, so "beats the baseline" means the ranking
carries information about that genre. With a few dozen positives, a small margin can be luck.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metrics import HEADLINE


def render_markdown(
    metrics: Mapping[str, Any],
    cv_summary: Mapping[str, Any] | None = None,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Evaluation report",
) -> str:
    """A Markdown report: headline table (CV mean ± std, test, baselines side by side) and a
    per-genre table (support, AP vs prevalence, ROC AUC, F1) with a "beats" summary line."""
    lines = [f"# {_cell(title)}", ""]
    lines += [
        f"Evaluation set: {metrics['n_samples']} posters, {metrics['n_genres']} genres, "
        f"{_fmt(metrics['label_cardinality_true'])} genres per poster on average.",
        "",
        "## Headline metrics",
        "",
    ]
    header, rows = headline_rows(metrics, cv_summary, baselines)
    lines += _table(header, rows)
    lines += [
        "",
        "Higher is better except Hamming loss. macro mAP and macro ROC AUC average only the "
        "genres where they are defined (at least one positive; and one negative for ROC AUC).",
    ]
    if baselines:
        lines += ["", "Baselines (fitted on training labels only, they never see a poster):"]
        for name, m in baselines.items():
            info = m.get("baseline", {})
            label_set = info.get("label_set")
            shown = ", ".join(label_set) if label_set and len(label_set) <= 6 else None
            what = f"predicts {shown}" if shown else f"predicts {len(label_set or [])} genres"
            lines.append(f"- **{_cell(name)}**: {info.get('rule', '')}; {what} for every poster.")

    lines += ["", "## Per genre", ""]
    lines += _per_genre_section(metrics, cv_summary)
    return "\n".join(lines) + "\n"


def headline_rows(
    metrics: Mapping[str, Any],
    cv_summary: Mapping[str, Any] | None = None,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of the headline table (shared by Markdown and rich)."""
    header = ["metric"]
    if cv_summary:
        header.append(f"CV mean ± std ({cv_summary['n_folds']} folds)")
    header.append("test")
    header += [f"baseline: {name}" for name in baselines or {}]
    rows = []
    for key, label, _ in HEADLINE:
        row = [label]
        if cv_summary:
            stats = cv_summary["metrics"].get(key, {})
            row.append(_fmt_stats(stats))
        row.append(_fmt(metrics.get(key)))
        row += [_fmt(m.get(key)) for m in (baselines or {}).values()]
        rows.append(row)
    return header, rows


def render_rich_table(
    metrics: Mapping[str, Any],
    cv_summary: Mapping[str, Any] | None = None,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    title: str = "Evaluation",
):
    """The headline table as a ``rich.table.Table`` (print it with a ``rich`` console)."""
    from rich.table import Table

    header, rows = headline_rows(metrics, cv_summary, baselines)
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def beats_baseline_count(metrics: Mapping[str, Any]) -> tuple[int, int]:
    """(genres whose AP beats their prevalence, genres where AP is defined)."""
    defined = [v for v in metrics["per_genre"].values() if v["ap"] is not None]
    return sum(v["ap"] > v["prevalence"] for v in defined), len(defined)


def _per_genre_section(metrics: Mapping[str, Any], cv_summary: Mapping[str, Any] | None):
    per_genre = metrics["per_genre"]
    cv_ap = (cv_summary or {}).get("per_genre_ap") or {}
    header = ["genre", "support", "baseline AP (prevalence)", "AP"]
    if cv_ap:
        header.append("CV AP")
    header += ["ROC AUC", "F1", "precision", "recall", "beats baseline"]
    rows = []
    for genre in sorted(per_genre, key=lambda g: (-per_genre[g]["support"], g)):
        v = per_genre[genre]
        ap = v["ap"]
        row = [_cell(genre), str(v["support"]), _fmt(v["prevalence"]), _fmt(ap)]
        if cv_ap:
            row.append(_fmt_stats(cv_ap.get(genre, {})))
        beats = "–" if ap is None else ("yes" if ap > v["prevalence"] else "**no**")
        row += [_fmt(v["roc_auc"]), _fmt(v["f1"]), _fmt(v["precision"]), _fmt(v["recall"]), beats]
        rows.append(row)
    wins, total = beats_baseline_count(metrics)
    lines = [f"The model beats the prevalence baseline on {wins}/{total} genres (AP > prevalence)."]
    skipped = metrics.get("ap_skipped_genres") or []
    if skipped:
        lines.append(
            f"Left out ({len(skipped)}, no positives in the evaluation set): "
            + ", ".join(_cell(g) for g in skipped)
            + "."
        )
    return [*lines, "", *_table(header, rows)]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.3f}"


def _fmt_stats(stats: Mapping[str, Any]) -> str:
    mean, std = stats.get("mean"), stats.get("std")
    if mean is None:
        return "–"
    return _fmt(mean) if std is None else f"{mean:.3f} ± {std:.3f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
