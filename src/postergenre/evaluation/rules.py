"""A calibration and a decision rule for every set of inputs a record can give.

A model that reads optional inputs (title, year, plot, ...) answers a bare poster and a poster
with everything, and its scores mean different things in the two cases. So each set of the
optional fields a record may give (all ``2 ** k`` of them) gets its own per-genre calibration
(``calibration``) and its own thresholds, cap and floor (``thresholds.fit_decision``), fitted
on the out-of-fold CV predictions made with exactly those inputs: the training movies that
have them, the others withheld. A record is answered by the set of fields it gave; a set with
too few training movies (``MIN_ROWS``) takes the rule of its largest subset that has enough;
a set without such a subset is fitted on what it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .calibration import Calibration, choose_method, fit_calibration
from .thresholds import DecisionRule, fit_decision

RULES_TYPE = "calibrated-per-input-set"
MIN_ROWS = 200  # a set fitted on fewer training movies takes a subset's rule


def input_sets(optional: Sequence[str]) -> list[tuple[str, ...]]:
    """Every subset of the optional fields, smallest first, in the fields' order."""
    return [c for k in range(len(optional) + 1) for c in combinations(optional, k)]


@dataclass(frozen=True)
class SetRule:
    """How one set of given optional fields is answered."""

    inputs: tuple[str, ...]  # the optional fields given
    calibration: Calibration
    rule: DecisionRule  # on calibrated probabilities
    fitted_on: int  # training movies (0: this set took ``source``'s rule)
    source: tuple[str, ...] | None = None  # the subset whose rule it took

    def to_json(self) -> dict:
        return {"inputs": list(self.inputs), "calibration": self.calibration.to_json(),
                "rule": self.rule.to_json(), "fitted_on": self.fitted_on,
                "source": None if self.source is None else list(self.source)}


@dataclass(frozen=True)
class DecisionRules:
    """Per-set calibrations and rules; ``optional``: the optional fields the model reads."""

    optional: tuple[str, ...]
    sets: tuple[SetRule, ...]

    def for_inputs(self, given: Iterable[str]) -> SetRule:
        """The rule of the optional fields among ``given``."""
        key = tuple(f for f in self.optional if f in set(given))
        return next(s for s in self.sets if s.inputs == key)

    @property
    def full(self) -> SetRule:
        """The rule of a record that gives every optional field."""
        return self.for_inputs(self.optional)

    def apply(self, raw: np.ndarray, given: Sequence[Iterable[str]]
              ) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and decisions for the graph's ``raw`` scores, row ``i``
        by the rule of the fields ``given[i]``."""
        probs = np.empty(raw.shape, np.float32)
        decided = np.zeros(raw.shape, bool)
        keys = [tuple(f for f in self.optional if f in set(g)) for g in given]
        for s in self.sets:
            rows = np.array([k == s.inputs for k in keys], bool)
            if rows.any():
                probs[rows] = s.calibration.apply(raw[rows])
                decided[rows] = s.rule.apply(probs[rows])
        return probs, decided

    @classmethod
    def uncalibrated(cls, rule: DecisionRule, n_genres: int, optional: Sequence[str] = ()
                     ) -> DecisionRules:
        """Every set answered by ``rule`` on the scores as they are (identity calibration)."""
        identity = Calibration("platt", params=((1.0, 0.0),) * n_genres)
        return cls(tuple(optional), tuple(SetRule(s, identity, rule, 0)
                                          for s in input_sets(optional)))

    def to_json(self) -> dict:
        return {"type": RULES_TYPE, "optional": list(self.optional),
                "sets": [s.to_json() for s in self.sets]}

    @classmethod
    def from_json(cls, d: object, n_genres: int) -> DecisionRules:
        """What ``to_json`` wrote; ``ValueError`` naming the first bad field."""
        if not isinstance(d, dict) or d.get("type") != RULES_TYPE:
            raise ValueError(f"decision must be an object with type {RULES_TYPE!r}")
        optional = d.get("optional")
        if not isinstance(optional, list) or not all(isinstance(f, str) for f in optional) \
                or len(set(optional)) != len(optional):
            raise ValueError("decision.optional must be a list of distinct field names")
        sets = d.get("sets")
        if not isinstance(sets, list):
            raise ValueError("decision.sets must be a list")
        parsed = []
        for i, s in enumerate(sets):
            where = f"decision.sets[{i}]"
            if not isinstance(s, dict) or not _names(s.get("inputs"), optional):
                raise ValueError(f"{where} must be an object whose inputs are optional fields")
            try:
                calibration = Calibration.from_json(s.get("calibration"), n_genres)
                rule = DecisionRule.from_json(s.get("rule"), n_genres)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            fitted = s.get("fitted_on")
            if isinstance(fitted, bool) or not isinstance(fitted, int) or fitted < 0:
                raise ValueError(f"{where}.fitted_on must be a count")
            source = s.get("source")
            if source is not None and not _names(source, optional):
                raise ValueError(f"{where}.source must be null or optional fields")
            parsed.append(SetRule(tuple(s["inputs"]), calibration, rule, fitted,
                                  None if source is None else tuple(source)))
        want = input_sets(optional)
        if sorted(s.inputs for s in parsed) != sorted(want):
            raise ValueError(f"decision.sets must hold one rule for each of the {len(want)} "
                             "sets of the optional fields")
        return cls(tuple(optional), tuple(parsed))


def _names(value: object, allowed: list[str]) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v in allowed for v in value)


@dataclass(frozen=True)
class SetPredictions:
    """Out-of-fold predictions made with one set of optional fields given."""

    inputs: tuple[str, ...]
    y: np.ndarray
    prob: np.ndarray
    folds: np.ndarray  # each row's CV fold


def fit_rules(optional: Sequence[str], predictions: Sequence[SetPredictions],
              at_least_one: bool = True, method: str | None = None
              ) -> tuple[DecisionRules, dict]:
    """Per-set calibrations (one method for all, chosen on the pooled predictions unless
    given) and rules; also ``{"method", "methods": {name: {"ece", "brier"}}}``."""
    pooled = [p for p in predictions if len(p.y)]
    y = np.concatenate([p.y for p in pooled])
    prob = np.concatenate([p.prob for p in pooled])
    folds = np.concatenate([np.char.add(f"{i}:", p.folds.astype(str))
                            for i, p in enumerate(pooled)])
    table: dict = {}
    if method is None:
        method, table = choose_method(y, prob, np.array([f.split(":")[1] for f in folds]))
    by_inputs = {p.inputs: p for p in predictions}
    fitted: dict[tuple[str, ...], SetRule] = {}
    for inputs in input_sets(optional):  # smallest first: a subset is fitted before
        p = by_inputs.get(inputs)
        subsets = [s for s in fitted if set(s) <= set(inputs) and fitted[s].fitted_on]
        if p is not None and len(p.y) and (len(p.y) >= MIN_ROWS or not subsets):
            calibration = fit_calibration(p.y, p.prob, method)
            rule = fit_decision(p.y, calibration.apply(p.prob), at_least_one=at_least_one)
            fitted[inputs] = SetRule(inputs, calibration, rule, len(p.y))
            continue
        if not subsets:
            raise ValueError(f"no training movie with {'+'.join(inputs) or 'nothing'} given "
                             "to fit a decision rule on")
        best = max(subsets, key=len)
        fitted[inputs] = SetRule(inputs, fitted[best].calibration, fitted[best].rule, 0, best)
    rules = DecisionRules(tuple(optional), tuple(fitted[s] for s in input_sets(optional)))
    return rules, {"method": method, "methods": table}


def cross_fitted(optional: Sequence[str], predictions: Sequence[SetPredictions], rounds: int,
                 at_least_one: bool = True, method: str = "beta") -> list[DecisionRules]:
    """For each CV round ``k``, the rules fitted (``fit_rules``, calibration ``method``) on
    the other rounds' predictions only, so that round ``k``'s fold is scored by rules that
    never saw it. ``ValueError`` with fewer than two rounds or too few movies to fit on."""
    if rounds < 2:
        raise ValueError("cross-fitted rules need at least two CV rounds")

    def without(k: int) -> list[SetPredictions]:
        return [SetPredictions(p.inputs, p.y[p.folds != k], p.prob[p.folds != k],
                               p.folds[p.folds != k]) for p in predictions]

    return [fit_rules(optional, without(k), at_least_one, method)[0] for k in range(rounds)]
