"""What every picture in the report shares: one colour per genre, figures and thumbnails
as data URIs.

Figures are matplotlib's object API on an Agg canvas (no ``pyplot``, no global state),
saved as PNG at a modest resolution; posters become small WebP thumbnails. Both are embedded
as ``data:`` URIs, so the report is one file that opens from disk.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from ..data.images import ImageError, load

DPI = 80
PAGE_PX = 1080  # the width a figure is shown at in the report, at most (wider ones shrink)
LABEL_PT = 11.0  # the smallest text of a heatmap: 12 px at DPI, shown unshrunk
MAX_NUMBERED = 30  # columns up to which a heatmap shows the % in each cell
THUMB_W, THUMB_H = 64, 94  # a 182x268 poster at about a third
OTHER = "#9e9e9e"  # genres the model does not predict, and anything that is no genre
NEUTRAL = "#37474f"  # lines and bars that belong to no genre (folds, years, all genres)


def _hues(name: str, indices: Sequence[int] | None = None) -> list[str]:
    """The colours of a qualitative colormap (those at ``indices``, else all), as hex."""
    cmap = colormaps[name]
    return [to_hex(cmap(i)) for i in (range(cmap.N) if indices is None else indices)]


_PALETTE = ([h for i, h in enumerate(_hues("tab10")) if i != 7]  # no grey
            + _hues("Dark2") + _hues("tab20b", (0, 4, 8, 12, 16, 2, 6, 10, 14, 18)))


def genre_colours(genres: Sequence[str]) -> dict[str, str]:
    """A fixed colour per genre, by the genre's position in the run's genre list (so every
    plot and table of one report uses the same one); hues repeat only past 28 genres."""
    hsv = colormaps["hsv"]
    return {g: _PALETTE[i] if i < len(_PALETTE) else to_hex(hsv((i * 0.618) % 1.0))
            for i, g in enumerate(genres)}


def figure(width: float, height: float,
           layout: Literal["constrained", "compressed", "tight"] | None = "constrained"
           ) -> Figure:
    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def heatmap(share, rows: Sequence[str], cols: Sequence[str], cmap: str,
            labels: tuple[str, str, str]) -> Figure:
    """A share matrix (0..1, NaN for blank cells) as a % heatmap; ``labels``: x label, y
    label, title. Sized to the report's width (``PAGE_PX``) with cells big enough for the %
    in each at ``LABEL_PT`` or more (up to ``MAX_NUMBERED`` columns; past that, a colour bar
    instead)."""
    label_in = LABEL_PT / 72 * 0.6  # about one character of a tick label
    left = 0.6 + label_in * max(map(len, rows))
    bottom = 0.9 + label_in * 0.87 * max(map(len, cols))  # labels turned 60 degrees
    numbered = len(cols) <= MAX_NUMBERED
    room = PAGE_PX / DPI - left - (0.3 if numbered else 1.3)
    cell = min(0.55, room / len(cols))
    fig = figure(max(6.0, left + cell * len(cols) + (0.3 if numbered else 1.3)),  # title
                 max(bottom + 0.5 + cell * len(rows), 0.5 + label_in * len(labels[1])))
    ax = fig.add_subplot()
    im = ax.imshow(share * 100, cmap=cmap, vmin=0, vmax=100)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=LABEL_PT)
    ax.set_yticks(range(len(rows)), rows, fontsize=LABEL_PT)
    if numbered:
        size = max(LABEL_PT, min(13.0, cell * 72 * 0.36))
        for (i, j), v in np.ndenumerate(share):
            if v == v and v >= 0.005:
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=size,
                        color="white" if v > 0.55 else "#111")
    else:
        fig.colorbar(im, ax=ax, shrink=0.4, label="%")
    ax.set_xlabel(labels[0], fontsize=LABEL_PT)
    ax.set_ylabel(labels[1], fontsize=LABEL_PT)
    ax.set_title(labels[2], fontsize=LABEL_PT + 1)
    return fig


def figure_uri(fig: Figure) -> str:
    """The figure as a PNG ``data:`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnail_uri(path: str | Path) -> str | None:
    """A poster as a small WebP ``data:`` URI; None when the file cannot be read."""
    try:
        im = load(Path(path))
    except (ImageError, OSError):
        return None
    im = im.resize((THUMB_W, THUMB_H))
    buf = io.BytesIO()
    im.save(buf, format="WEBP", quality=60, method=4)
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
