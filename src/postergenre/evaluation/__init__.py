"""Evaluation: metrics, decision thresholds, no-information baselines, plots and Markdown
summaries.

Everything here takes numpy arrays (``y_true`` (n, G) 0/1, ``y_prob`` (n, G) scores,
``y_pred`` (n, G) bool) and a list of genre names, and returns JSON-ready dicts.
Plots are imported lazily (``from postergenre.evaluation.plots import ...``) so that scoring
does not pull in matplotlib.
"""

from .baselines import (
    best_constant_baseline,
    best_constant_label_set,
    evaluate_baselines,
    prevalence_baseline,
)
from .metrics import HEADLINE, HEADLINE_KEYS, compute_metrics, summarise_folds
from .summary import render_markdown, render_rich_table
from .thresholds import (
    DecisionRule,
    apply_thresholds,
    fit_decision,
    fit_thresholds,
    thresholds_to_dict,
)

__all__ = [
    "HEADLINE",
    "HEADLINE_KEYS",
    "DecisionRule",
    "fit_decision",
    "apply_thresholds",
    "best_constant_baseline",
    "best_constant_label_set",
    "compute_metrics",
    "evaluate_baselines",
    "fit_thresholds",
    "prevalence_baseline",
    "render_markdown",
    "render_rich_table",
    "summarise_folds",
    "thresholds_to_dict",
]
