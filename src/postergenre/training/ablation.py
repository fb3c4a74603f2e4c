"""Ablation by inputs: the final model scored on the test part with some inputs withheld.

One fused model serves any subset of its optional inputs (a missing input is a masked row),
so the ablation needs no retraining: each row withholds inputs from every test movie (their
masks set to absent) and scores the rest with the run's decision rule, on the whole test
part and split by whether the movie has a plot.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import DecisionRule, compute_metrics
from ..features.inputs import Inputs
from ..features.specs import InputSpec
from ..models.base import Estimator

KEYS = ("macro_map", "macro_f1", "micro_f1")


def subsets(optional: list[str]) -> list[tuple[str, ...]]:
    """None, each alone, title+year, all but the poster's text (OCR) and all of them (in the
    order given, once each)."""
    rows = [(), *[(f,) for f in optional]]
    if {"title", "year"} <= set(optional):
        rows.append(("title", "year"))
    rows.append(tuple(f for f in optional if f != "ocr"))
    rows.append(tuple(optional))
    return list(dict.fromkeys(rows))


def withhold(inputs: Inputs, sources: list[InputSpec], keep: tuple[str, ...]) -> Inputs:
    """``inputs`` with every optional source whose field is not in ``keep`` absent."""
    masks = dict(inputs.masks)
    for s in sources:
        if not s.required and s.field.name not in keep:
            masks[s.name] = np.zeros_like(masks[s.name])
    return Inputs(inputs.arrays, masks)


def ablation(model: Estimator, inputs: Inputs, y: np.ndarray, rule: DecisionRule,
             genres: list[str], sources: list[InputSpec], has_plot: np.ndarray) -> dict | None:
    """``{inputs label: {"all"|"with plot"|"without plot": {metric: value, "n": movies}}}``,
    or ``None`` when the model has no optional input."""
    parts = {"all": np.ones(len(y), bool), "with plot": has_plot, "without plot": ~has_plot}
    return _scored(model, inputs, y, rule, genres, sources, parts)


def cv_ablation(models: list[Estimator], rules: list[DecisionRule], inputs: Inputs,
                y: np.ndarray, scored: list[np.ndarray], genres: list[str],
                sources: list[InputSpec]) -> dict | None:
    """The same rows over the CV rounds (round k's model and decision rule on its scored
    fold): ``{inputs label: {metric: {"mean", "std"}}}``, or ``None`` without optional
    inputs."""
    rounds = [_scored(m, inputs.take(rows), y[rows], rule, genres, sources,
                      {"all": np.ones(int(rows.sum()), bool)})
              for m, rule, rows in zip(models, rules, scored, strict=True)]
    if not rounds or rounds[0] is None:
        return None
    return {label: {k: {"mean": float(np.mean([r[label]["all"][k] for r in rounds])),
                        "std": float(np.std([r[label]["all"][k] for r in rounds]))}
                    for k in KEYS} for label in rounds[0]}


def _scored(model: Estimator, inputs: Inputs, y: np.ndarray, rule: DecisionRule,
            genres: list[str], sources: list[InputSpec], parts: dict[str, np.ndarray]
            ) -> dict | None:
    optional = list(dict.fromkeys(s.field.name for s in sources if not s.required))
    if not optional:
        return None
    required = list(dict.fromkeys(s.field.name for s in sources if s.required))
    table = {}
    for keep in subsets(optional):
        probs = model.predict_proba(withhold(inputs, sources, keep))
        pred = rule.apply(probs)
        label = "+".join([*required, *keep]) or "nothing"
        table[label] = {}
        for part, rows in parts.items():
            if rows.any():
                m = compute_metrics(y[rows], probs[rows], pred[rows], genres)
                table[label][part] = {**{k: m[k] for k in KEYS}, "n": int(rows.sum())}
    return table
