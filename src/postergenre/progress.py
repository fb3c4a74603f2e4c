"""One progress style for long work, on stderr so stdout stays machine-readable: a Rich bar
on a terminal, else (a log file, a pipe) a line every ``LOG_EVERY_S`` seconds with the share
done, the rate and the time left."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")
stderr = Console(stderr=True, markup=False)  # messages hold file names: text, not markup
LOG_EVERY_S = 30.0  # seconds between two progress lines when there is no terminal


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def track(items: Iterable[T], total: int, description: str, enabled: bool = True,
          size: Callable[[T], int] = lambda item: 1) -> Iterator[T]:
    """Yield ``items`` while showing progress on stderr; ``total`` counts ``size(item)``
    units (an item may be a batch of posters)."""
    if not enabled:
        yield from items
    elif stderr.is_terminal:
        yield from _bar(items, total, description, size)
    else:
        yield from _lines(items, total, description, size)


def _bar(items: Iterable[T], total: int, description: str,
         size: Callable[[T], int]) -> Iterator[T]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task, size(item))


def _lines(items: Iterable[T], total: int, description: str,
           size: Callable[[T], int]) -> Iterator[T]:
    """A progress line now and then (none for a step shorter than ``LOG_EVERY_S``), and a
    last one when a step that printed any ends."""
    start = last = time.monotonic()
    done, printed = 0, False
    for item in items:
        yield item
        done += size(item)
        now = time.monotonic()
        if now - last >= LOG_EVERY_S and done < total:
            last, printed = now, True
            print(progress_line(description, done, total, now - start), file=sys.stderr,
                  flush=True)
    if printed:
        print(progress_line(description, done, total, time.monotonic() - start),
              file=sys.stderr, flush=True)


def progress_line(description: str, done: int, total: int, seconds: float) -> str:
    """``embedding: 1,200 of 8,000 (15%), 40/s, 2 min 50 s left`` (or ``done in ...``)."""
    rate = done / seconds if seconds > 0 else 0.0
    share = f" ({done / total:.0%})" if total else ""
    if done >= total:
        when = f"done in {_duration(seconds)}"
    elif rate:
        when = f"{_duration((total - done) / rate)} left"
    else:
        when = "time left unknown"
    return f"{description}: {done:,} of {total:,}{share}, {rate:,.1f}/s, {when}"


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    if hours:
        return f"{hours} h {m} min"
    return f"{m} min {s} s" if m else f"{s} s"
