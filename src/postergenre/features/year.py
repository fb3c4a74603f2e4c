"""Release years as model input: a smooth encoding that lets a model learn era effects.

A year becomes Gaussian bumps centred on each decade from 1910 to 2030 (width 8 years) plus a
linear term, so neighbouring years look alike and a model can learn "1970s" or "recent". A
year outside 1870-2035 or not a number ("n/a", 0, 3000) is treated as missing, with a note.
Missing years are 0 and encode as zeros; the presence mask says which rows have one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.table import is_null

FIRST, LAST = 1870, 2035
CENTRES = np.arange(1910, 2031, 10, dtype=np.float32)
WIDTH = 8.0
DIM = len(CENTRES) + 1


def parse_year(value: object) -> tuple[float, str | None]:
    """(year, None), or (0.0, why it is treated as missing); empty values are just missing."""
    if value is None or is_null(value):
        return 0.0, None
    text = str(value).strip()
    if not text:
        return 0.0, None
    try:
        year = float(text[:4]) if len(text) >= 4 and text[:4].isdigit() else float(text)
    except ValueError:
        return 0.0, f"year {text[:20]!r} is not a number; treated as missing"
    if not FIRST <= year <= LAST:
        return 0.0, f"year {text[:20]!r} is outside {FIRST}-{LAST}; treated as missing"
    return float(int(year)), None


def encode(years: np.ndarray) -> np.ndarray:
    """(n,) years (0: missing) -> (n, DIM) float32; missing rows are zeros."""
    return YearEncoding()(torch.from_numpy(np.asarray(years, np.float32)[:, None])).numpy()


class YearEncoding(nn.Module):
    """(N, 1) years, 0 = missing -> (N, DIM): decade bumps and a linear term, zeros if missing."""

    centres: torch.Tensor  # buffer: the decades' centres, (1, bumps)

    def __init__(self):
        super().__init__()
        self.register_buffer("centres", torch.from_numpy(CENTRES)[None], persistent=False)

    def forward(self, years: torch.Tensor) -> torch.Tensor:
        present = (years > 0).float()
        bumps = torch.exp(-0.5 * ((years - self.centres) / WIDTH) ** 2)
        return torch.cat([bumps, (years - 1990.0) / 50.0], dim=1) * present
