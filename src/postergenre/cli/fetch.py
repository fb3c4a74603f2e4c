"""``postergenre data fetch``: a movie table with poster URLs → a dataset folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import UserError
from . import data
from . import options as o

console = o.Output()
# The options a failure reason's hint is about.
SEE = {
    "too-large": "--max-mb",
    "timeout": "--timeout",
    "http-429": "--concurrency, --per-host, --delay",
    "too-many-redirects": "--max-redirects",
}

# the column a filter reads
Detected = Annotated[str | None, typer.Option(help="Default: detected.")]


def flag(setting: str) -> str:
    """The option that sets a library setting (``max_mb`` → ``--max-mb``)."""
    return "--timeout" if setting == "deadline" else "--" + setting.replace("_", "-")


@data.app.command("fetch")
def fetch(
    table: Annotated[
        Path, typer.Argument(help="Movie table (CSV/TSV/Parquet/JSON) with an id and a poster URL.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to create or complete.")],
    rating: Annotated[str | None, typer.Option(
        help="Keep these content ratings, e.g. G,PG,PG-13.")] = None,
    rating_column: Detected = None,
    years: Annotated[str | None, typer.Option(
        help="Keep these years, e.g. 1980-2023, 1990- or -2000.")] = None,
    year_column: Detected = None,
    genres: Annotated[str | None, typer.Option(
        help="Keep films with any of these genres, e.g. Comedy,Family.")] = None,
    genres_column: Detected = None,
    require: Annotated[str | None, typer.Option(
        help="Keep rows where these columns are filled, e.g. plot,title.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Id column (default: detected).")] = None,
    url_column: Annotated[str | None, typer.Option(
        help="Poster URL column (default: image, poster, url...).")] = None,
    base_url: Annotated[str | None, typer.Option(
        help="Prefix for relative URLs (e.g. TMDB poster_path).")] = None,
    concurrency: Annotated[int, typer.Option(help="Downloads in flight (1-256).")] = 8,
    per_host: Annotated[int, typer.Option(help="Downloads in flight per host (1-256).")] = 4,
    delay: Annotated[float, typer.Option(
        help="Seconds between requests to one host (0: none).")] = 0.0,
    timeout: Annotated[float, typer.Option(
        help="Seconds to connect or wait for data; an attempt gets 3x.")] = 20.0,
    retries: Annotated[int, typer.Option(
        help="Retries on 5xx, timeouts, dropped links (0: none).")] = 3,
    max_mb: Annotated[float, typer.Option(
        help="Largest poster accepted from any source, in MB.")] = 20.0,
    max_redirects: Annotated[int, typer.Option(
        help="Redirects followed per URL (0: a redirect is a failure).")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Download every poster URL of a (filtered) movie table into a dataset folder.

    Re-running the same command fetches only what is missing or failed. Writes
    OUT/movies.csv, OUT/posters/<id>.<ext> and OUT/fetch/{report.json,failures.csv}.
    """
    from ..data.fetch import FetchOptions, OptionError, fetch_table
    from ..data.filters import Filters, parse_list, parse_years

    filters = Filters(
        ratings=parse_list(rating),
        years=parse_years(years),
        genres=parse_list(genres),
        require=parse_list(require),
        rating_column=rating_column,
        year_column=year_column,
        genres_column=genres_column,
    )
    try:
        options = FetchOptions(
            concurrency=concurrency,
            per_host=per_host,
            delay=delay,
            timeout=timeout,
            deadline=3 * timeout,
            retries=retries,
            max_mb=max_mb,
            max_redirects=max_redirects,
        )
        report = fetch_table(
            table, out, filters, id_column, url_column, base_url, options, progress=not as_json
        )
    except OptionError as e:
        raise UserError(e.text(flag(e.option))) from None
    if as_json:
        print(json.dumps(report))
    else:
        _print_report(report)


def _print_report(r: dict) -> None:
    t = Table(title=f"Fetched {r['table']} → {r['out']}", show_header=False)
    t.add_row("rows in table", str(r["rows_in_table"]))
    for step in r["filters"]:
        t.add_row(f"  {step['filter']} ({step['column']})", f"-{step['removed']}")
    p = r["posters"]
    rows = [
        ("rows selected", r["rows_selected"]),
        ("posters present", p["present"]),
        ("  downloaded now", p["downloaded"]),
        ("  already there", p["already_present"]),
        ("failed", p["failed"]),
        ("byte-identical groups", len(r["duplicates"])),
    ]
    for k, v in rows:
        t.add_row(k, str(v))
    console.print(t)
    for reason, n in r["failures_by_reason"].items():
        see = f" (see {SEE[reason]})" if reason in SEE else ""
        why = escape(f"{reason}: {r['hints'][reason]}{see}")
        console.print(f"[red]{n} failed[/red] {why}", markup=True, highlight=False)
    for note in r["notes"]:
        console.print(f"note: {note}", highlight=False)
    f = r["files"]
    console.print(
        f"table: {f['table']}  posters: {f['posters']}  failures: {f['failures']}  "
        f"({r['seconds']} s)",
        highlight=False,
    )
