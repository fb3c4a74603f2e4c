"""``postergenre report``: a finished run as one self-contained HTML file, for people.

``build_report`` reads a run folder (``load``), never retraining or re-embedding, and writes
the data (``data``), the model's figures with bootstrap intervals (``model``, ``curves``; the
intervals from ``evaluation.bootstrap``), examples (``examples``) and caveats (``caveats``)
into one page (``html``) whose pictures (``figures``) are embedded. ``build_leaderboard``
does the same for a folder of runs.
"""

from .build import build_report
from .leaderboard import build_leaderboard

__all__ = ["build_leaderboard", "build_report"]
