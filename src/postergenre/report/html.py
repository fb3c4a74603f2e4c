"""The page: escaping, tagged numbers, tables, figures and the one-file template.

Every number the report shows is a ``<span class="num">``: one taken from the run's record
(``metrics.json``) carries ``data-metric`` (its path there, as a JSON list) and
``data-value`` (the full value); one the report computed (a bootstrap bound, a count over the
dataset, an ECE) carries ``data-derived`` and is listed in the page's ``report-data`` JSON
block. A reader, or a test, can check each figure against its source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..training.record import RunRecord


def esc(text: Any) -> str:
    return escape(str(text), quote=True)


def fmt(value: Any, spec: str = ".3f") -> str:
    """A number as shown: '–' for a missing one, thousands separators for counts."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if spec == "d":
        return f"{int(value):,}"
    if spec == "%":
        return f"{100 * float(value):.1f}%"
    return format(float(value), spec)


class Numbers:
    """Makes the tagged number spans of one page and remembers the derived ones."""

    def __init__(self, record: RunRecord | None = None, run: str | None = None):
        self.record = record
        self.run = run
        self.derived: dict[str, Any] = {}

    def metric(self, *path: str | int, spec: str = ".3f") -> str:
        """The value at ``path`` in the run's record (``metrics.json``), shown and tagged."""
        if self.record is None:
            raise ValueError("these numbers have no run record")
        value = self.record.at(*path)
        run = f' data-run="{esc(self.run)}"' if self.run else ""
        return (f'<span class="num" data-metric="{esc(json.dumps(list(path)))}"{run} '
                f'data-value="{esc(json.dumps(value))}">{fmt(value, spec)}</span>')

    def value(self, key: str, value: Any, spec: str = ".3f") -> str:
        """A number the report computed, shown, tagged and recorded under ``key``."""
        if isinstance(value, float) and value != value:
            value = None
        self.derived[key] = value
        return (f'<span class="num" data-derived="{esc(key)}" '
                f'data-value="{esc(json.dumps(value))}">{fmt(value, spec)}</span>')

    def interval(self, key: str, bounds: Sequence[float] | None) -> str:
        """A confidence interval '[low, high]' (or '–')."""
        if bounds is None:
            return self.value(key, None)
        return (f"<span class=\"num\">[{self.value(key + '.low', bounds[0])}, "
                f"{self.value(key + '.high', bounds[1])}]</span>")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], text: int = 1) -> str:
    """An HTML table whose first ``text`` columns are text (left-aligned), the rest numbers;
    cells are HTML already (escape text with ``esc``)."""

    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(f'<{tag}{" class=text" if i < text else ""}>{c}</{tag}>'
                       for i, c in enumerate(row))

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (f'<div class="scroll" tabindex="0"><table>'  # focusable: keys scroll it if narrow
            f'<thead><tr>{cells("th", header)}</tr></thead><tbody>{body}</tbody></table></div>')


def img(uri: str, alt: str, caption: str = "") -> str:
    """A plot with its caption (HTML)."""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure class="plot"><img src="{uri}" alt="{esc(alt)}">{cap}</figure>'


def chip(genre: str, colours: dict[str, str]) -> str:
    """A genre name with its colour swatch."""
    colour = colours.get(genre, "#9e9e9e")
    return f'<span class="genre"><i style="background:{colour}"></i>{esc(genre)}</span>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]],
         data: dict, warnings: Sequence[str] = ()) -> str:
    """The whole document: ``sections`` are (anchor, title, body HTML); ``warnings`` (text)
    stand above them; ``data`` becomes the ``report-data`` JSON block."""
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    if warnings:
        body = (f'<div class="warning" role="note">'
                f'{"".join(f"<p>{esc(w)}</p>" for w in warnings)}</div>' + body)
    blob = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{esc(title)}</h1><p class="sub">{subtitle}</p><nav>{nav}</nav>'
            f"</header><main>{body}</main>"
            f'<script type="application/json" id="report-data">{blob}</script>'
            "</body></html>")


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a folder or not an HTML file name, before any work."""
    if out.is_dir():
        raise UserError(f"{out}: is a folder; --out names the HTML file to write")
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"{out}: --out must end in .html")


CSS = """
:root{--ink:#1d2428;--muted:#5f6b72;--line:#dde3e6;--bg:#f6f8f9;--card:#fff;--accent:#1565c0}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
header{background:#102a43;color:#fff;padding:24px 32px 12px}
header h1{margin:0;font-size:26px}
.sub{margin:4px 0 12px;color:#c8d6e5}
nav{display:flex;flex-wrap:wrap;gap:4px 18px}
nav a{color:#9fd3ff;text-decoration:none;font-weight:600}
main{max-width:1180px;margin:0 auto;padding:8px 24px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:8px 24px 20px;margin:20px 0}
h2{font-size:21px;border-bottom:2px solid var(--line);padding-bottom:6px}
h3{font-size:17px;margin:22px 0 6px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;
margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fbfcfd}
.card .label{color:var(--muted);font-size:13px}
.card .big{font-size:30px;font-weight:700;color:var(--accent)}
.card .small{font-size:13px;color:var(--muted)}
table{border-collapse:collapse;margin:8px 0;font-size:13.5px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th{background:#eef2f4}
td.text,th.text{text-align:left}
.scroll{overflow-x:auto}
tbody tr:nth-child(even){background:#fafbfc}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.genre{white-space:nowrap}
.genre i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:5px;
vertical-align:-1px}
figure{margin:14px 0}
figure.plot img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
figcaption{color:var(--muted);font-size:13px;margin-top:4px}
.note{color:var(--muted);font-size:13.5px}
.bar{display:inline-block;height:10px;background:var(--accent);border-radius:2px;
vertical-align:middle;margin-left:6px}
.thumbs{display:flex;flex-wrap:wrap;gap:4px;align-items:flex-start}
.thumbs img{width:64px;height:94px;border-radius:3px;border:1px solid var(--line)}
.genre-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:10px 18px}
.examples{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:6px 18px}
.examples h4{margin:6px 0}
.ex{display:flex;gap:6px;font-size:12px;line-height:1.3;width:230px}
.ex img{width:64px;height:94px;border-radius:3px;border:1px solid var(--line)}
.ex .p{font-weight:700}
.right{color:#2e7d32}.wrong{color:#c62828}.missed{color:#8a5300}
.caveats li{margin:6px 0}
.warning{background:#fff4e5;border:1px solid #e65100;border-radius:10px;padding:4px 24px;
margin:20px 0;color:#5d2c00;font-weight:600}
"""
