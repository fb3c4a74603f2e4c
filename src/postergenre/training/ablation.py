"""Ablation by inputs: the final model scored on the test part with some inputs withheld.

One fused model serves any subset of its optional inputs (a missing input is a masked row),
so the ablation needs no retraining: each row withholds inputs from every test movie (their
masks set to absent) and scores the rest with the run's calibration and decision rule for the
inputs each movie is left with, on the whole test part and split by whether the movie has a
plot. The same withholding makes the out-of-fold predictions those rules are fitted on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from ..evaluation import compute_metrics
from ..evaluation.bootstrap import calibration_shift
from ..evaluation.rules import DecisionRules, SetPredictions, input_sets
from ..features.inputs import Inputs
from ..features.specs import InputSpec
from ..models.base import Estimator

KEYS = ("macro_map", "macro_f1", "micro_f1")
CALIBRATION_KEYS = ("ece", "brier")
# (scores, the inputs they were made from) -> (probabilities, decisions)
Decide = Callable[[np.ndarray, Inputs], tuple[np.ndarray, np.ndarray]]


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


def ablation(model: Estimator, inputs: Inputs, y: np.ndarray, rules: DecisionRules,
             genres: list[str], sources: list[InputSpec], has_plot: np.ndarray,
             seed: int = 0) -> tuple[dict | None, dict]:
    """``{inputs label: {"all"|"with plot"|"without plot": {metric: value, "n": movies}}}``
    (calibrated, with ECE and Brier score) and ``{inputs label: calibration_shift(...)}``
    (reliability before and after calibration, on all movies); the first is ``None`` and
    the second has one row when the model has no optional input."""
    parts = {"all": np.ones(len(y), bool), "with plot": has_plot, "without plot": ~has_plot}
    shifts: dict[str, dict] = {}

    decide = partial(_by_rules, rules, sources)

    def seen(label: str, raw: np.ndarray, probs: np.ndarray) -> None:
        shifts[label] = calibration_shift(y, raw, probs, seed=seed)

    table = _scored(model, inputs, y, decide, genres, sources, parts, KEYS + CALIBRATION_KEYS,
                    seen)
    if table is None:  # one set of inputs: the model's own
        raw = model.predict_proba(inputs)
        seen("+".join(dict.fromkeys(s.field.name for s in sources)), raw, decide(raw, inputs)[0])
    return table, shifts


def cv_ablation(models: list[Estimator], rules: list[DecisionRules], inputs: Inputs,
                y: np.ndarray, scored: list[np.ndarray], genres: list[str],
                sources: list[InputSpec]) -> dict | None:
    """The same rows over the CV rounds (round k's model on its scored fold, answered by
    ``rules[k]``, calibrations and rules per set of inputs fitted without that fold):
    ``{inputs label: {metric: {"mean", "std"}}}``, or ``None`` without optional inputs or
    without ``rules``."""
    if not rules:
        return None
    rounds = [_scored(m, inputs.take(rows), y[rows], partial(_by_rules, r, sources), genres,
                      sources, {"all": np.ones(int(rows.sum()), bool)}, KEYS)
              for m, r, rows in zip(models, rules, scored, strict=True)]
    tables = [r for r in rounds if r is not None]  # all or none: the rounds share the sources
    if not tables:
        return None
    return {label: {k: {"mean": float(np.mean([r[label]["all"][k] for r in tables])),
                        "std": float(np.std([r[label]["all"][k] for r in tables]))}
                    for k in KEYS} for label in tables[0]}


def _by_rules(rules: DecisionRules, sources: list[InputSpec], raw: np.ndarray, given: Inputs
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's probabilities and decisions by the rule of the inputs it was given."""
    return rules.apply(raw, given_fields(given, sources))


def _scored(model: Estimator, inputs: Inputs, y: np.ndarray, decide: Decide,
            genres: list[str], sources: list[InputSpec], parts: dict[str, np.ndarray],
            keys: tuple[str, ...],
            seen: Callable[[str, np.ndarray, np.ndarray], None] | None = None) -> dict | None:
    """Each row of ``subsets``: ``decide`` on the model's scores with the other inputs
    withheld, scored per part; ``seen(label, scores, probabilities)`` for each row."""
    optional = list(dict.fromkeys(s.field.name for s in sources if not s.required))
    if not optional:
        return None
    required = list(dict.fromkeys(s.field.name for s in sources if s.required))
    table: dict[str, dict[str, dict]] = {}  # inputs label -> part -> scores
    for keep in subsets(optional):
        given = withhold(inputs, sources, keep)
        raw = model.predict_proba(given)
        probs, pred = decide(raw, given)
        label = "+".join([*required, *keep]) or "nothing"
        if seen is not None:
            seen(label, raw, probs)
        table[label] = {}
        for part, rows in parts.items():
            if rows.any():
                m = compute_metrics(y[rows], probs[rows], pred[rows], genres)
                table[label][part] = {**{k: m[k] for k in keys}, "n": int(rows.sum())}
    return table


def given_fields(inputs: Inputs, sources: list[InputSpec]) -> list[tuple[str, ...]]:
    """Per row, the optional fields it has (the record fields behind its present inputs)."""
    optional = [s for s in sources if not s.required and s.name in inputs.masks]
    if not optional:
        return [()] * len(inputs)
    has = np.stack([inputs.masks[s.name] for s in optional], axis=1)
    return [tuple(dict.fromkeys(s.field.name for s, h in zip(optional, row, strict=True) if h))
            for row in has]


def set_predictions(models: list[Estimator], inputs: Inputs, y: np.ndarray,
                    scored: list[np.ndarray], sources: list[InputSpec]
                    ) -> list[SetPredictions]:
    """Out-of-fold predictions for every set of optional fields: round k's model on its
    scored fold's movies that have every field of the set, the other fields withheld."""
    optional = list(dict.fromkeys(s.field.name for s in sources if not s.required))
    given = given_fields(inputs, sources)
    out = []
    for keep in input_sets(optional):
        ys, probs, folds = [], [], []
        for k, (model, rows) in enumerate(zip(models, scored, strict=True)):
            rows = rows & np.array([set(keep) <= set(g) for g in given], bool)
            if rows.any():
                probs.append(model.predict_proba(withhold(inputs.take(rows), sources, keep)))
                ys.append(y[rows])
                folds.append(np.full(int(rows.sum()), k))
        if ys:
            out.append(SetPredictions(keep, np.concatenate(ys), np.concatenate(probs),
                                      np.concatenate(folds)))
    return out
