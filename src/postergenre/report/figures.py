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
    """A share matrix (0..1, NaN for blank cells) as a % heatmap with its colour bar and, up
    to 30 columns, the % in each cell; ``labels``: x label, y label, title."""
    size = 4.5 + 0.36 * len(cols)
    fig = figure(size + 1.2, size)
    ax = fig.add_subplot()
    im = ax.imshow(share * 100, cmap=cmap, vmin=0, vmax=100)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    if len(cols) <= 30:
        small = 9 if len(cols) <= 12 else 7.5
        for (i, j), v in np.ndenumerate(share):
            if v == v and v >= 0.005:
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=small,
                        color="white" if v > 0.55 else "#222")
    fig.colorbar(im, ax=ax, shrink=0.4, label="%")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(labels[2])
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
