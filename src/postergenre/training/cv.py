"""Cross-validation on the training part, and the final model made from it.

In round k, fold k is scored, fold k+1 is the validation fold (early stopping and the
decision rule) and the other folds train. The final model is the fold models averaged
(``cv-ensemble``) or one model refitted on every training fold for the median best epoch
count (``refit``); either way its decision rule is fitted on the out-of-fold predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data.splits import TEST
from ..errors import UserError
from ..evaluation import DecisionRule, compute_metrics, fit_decision
from ..evaluation.rules import DecisionRules, cross_fitted, fit_rules
from ..models.base import Estimator
from ..models.ensemble import ensemble
from ..models.registry import get_model
from ..progress import stderr
from .ablation import set_predictions
from .config import TrainConfig
from .inputs import ModelData


@dataclass
class CVResult:
    fold_metrics: list[dict]
    oof: np.ndarray  # out-of-fold probabilities (NaN where a row was not scored)
    best_epochs: list[int]
    models: list[Estimator] = field(default_factory=list)
    rules: list[DecisionRule] = field(default_factory=list)  # each round's, fitted on its
    scored: list[np.ndarray] = field(default_factory=list)  # validation fold; rows it scored

    @property
    def histories(self) -> list[list[dict]]:
        return [m.history for m in self.models]


def cross_validate(data: ModelData, config: TrainConfig, genres: list[str],
                   on_fold: Callable[[int, list[dict]], None] | None = None) -> CVResult:
    """Per-fold metrics, out-of-fold probabilities and the fitted fold models.

    ``on_fold(k, fold_metrics_so_far)`` is called after each round (tuning prunes there).
    """
    choice = get_model(config.model)
    names = [s.name for s in data.specs]
    folds = [f"fold{k}" for k in range(config.folds)]
    rounds = min(config.cv_rounds or len(folds), len(folds))
    train_mask = data.parts != TEST
    result = CVResult([], np.full(data.y.shape, np.nan, dtype=np.float32), [])
    for k, fold in enumerate(folds[:rounds]):
        val_fold = folds[(k + 1) % len(folds)]
        fit = train_mask & (data.parts != fold) & (data.parts != val_fold)
        val, scored = data.parts == val_fold, data.parts == fold
        if not fit.any() or not val.any() or not scored.any():
            raise ValueError(f"fold {fold}: too few movies to train, validate and score; "
                             "use fewer folds or more data")
        model = choice.make(config.settings, names, config.seed)
        model.fit(data.inputs.take(fit), data.y[fit], data.inputs.take(val), data.y[val])
        rule = fit_decision(data.y[val], model.predict_proba(data.inputs.take(val)),
                            at_least_one=config.at_least_one)
        probs = model.predict_proba(data.inputs.take(scored))
        result.oof[scored] = probs
        metrics = compute_metrics(data.y[scored], probs, rule.apply(probs), genres)
        result.fold_metrics.append(metrics)
        result.best_epochs.append(model.best_epoch)
        result.models.append(model)
        result.rules.append(rule)
        result.scored.append(scored)
        stderr.print(
            f"fold {k + 1}/{rounds}: macro mAP {metrics['macro_map']:.3f}, macro-F1 "
            f"{metrics['macro_f1']:.3f}, micro-F1 {metrics['micro_f1']:.3f} "
            f"(best epoch {model.best_epoch})",
            highlight=False,
        )
        if on_fold is not None:
            on_fold(k, result.fold_metrics)
    return result


def final_model(data: ModelData, config: TrainConfig, cv: CVResult
                ) -> tuple[Estimator, DecisionRules, dict, list[DecisionRules]]:
    """The model to ship, its calibrations and decision rules (one per set of optional
    inputs, fitted on the out-of-fold predictions made with that set), how the calibration
    method was chosen, and each CV round's rules fitted the same way on the other rounds'
    predictions (``cross_fitted``: what the CV ablation scores each round's fold by; none
    when they cannot be fitted)."""
    train_mask = data.parts != TEST
    if config.final_model == "cv-ensemble":
        model = ensemble(cv.models, data.inputs.take(train_mask), data.y[train_mask])
    else:
        choice = get_model(config.model)
        names = [s.name for s in data.specs]
        epochs = max(1, int(np.median(cv.best_epochs)))
        model = choice.make(config.settings, names, config.seed)
        model.fit(data.inputs.take(train_mask), data.y[train_mask], epochs=epochs)
    optional = list(dict.fromkeys(s.field.name for s in data.specs if not s.required))
    predictions = set_predictions(cv.models, data.inputs, data.y, cv.scored, data.specs)
    try:
        rules, chosen = fit_rules(optional, predictions, config.at_least_one)
    except ValueError as e:
        raise UserError(f"decision rules: {e}") from None
    try:
        rounds = cross_fitted(optional, predictions, len(cv.models), config.at_least_one,
                              chosen["method"])
    except ValueError:  # one round, or a set of inputs only one round's fold has: no CV rules
        rounds = []
    return model, rules, chosen, rounds
