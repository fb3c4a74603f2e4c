"""Calibration maps and the calibrated decision rule per set of inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from postergenre.evaluation.calibration import (
    Calibration,
    choose_method,
    ece,
    fit_calibration,
)
from postergenre.evaluation.rules import (
    MIN_ROWS,
    DecisionRules,
    SetPredictions,
    fit_rules,
    input_sets,
)


def overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores pushed towards 0 and 1 far beyond what they know."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n, 3)) < np.array([0.5, 0.2, 0.05])
    signal = truth + rng.normal(0, 0.8, truth.shape)
    return truth.astype(int), (1 / (1 + np.exp(-6 * (signal - 0.5)))).astype(np.float32)


@pytest.mark.parametrize("method", ["platt", "beta", "isotonic"])
def test_each_method_fixes_calibration_and_round_trips(method):
    y, p = overconfident(4000)
    cal = fit_calibration(y[:2000], p[:2000], method)
    out = cal.apply(p[2000:])
    assert ece(y[2000:], out) < 0.03 < ece(y[2000:], p[2000:])
    again = Calibration.from_json(cal.to_json(), 3)
    np.testing.assert_allclose(again.apply(p[2000:]), out, atol=1e-6)
    if method != "isotonic":  # rank-keeping: every genre's AP unchanged
        for g in range(3):
            assert average_precision_score(y[2000:, g], out[:, g]) == pytest.approx(
                average_precision_score(y[2000:, g], p[2000:, g]), abs=1e-9)


def test_the_chosen_method_keeps_ranking_and_the_table_has_none():
    y, p = overconfident(3000, seed=1)
    method, table = choose_method(y, p, np.arange(3000) % 5)
    assert method in ("platt", "beta")
    assert set(table) == {"none", "platt", "beta", "isotonic"}
    assert table[method]["ece"] < table["none"]["ece"]


def test_a_bad_calibration_document_is_refused():
    with pytest.raises(ValueError, match="slopes >= 0"):
        Calibration.from_json({"method": "platt", "params": [[-1.0, 0.0]]}, 1)
    with pytest.raises(ValueError, match="3 lists"):
        Calibration.from_json({"method": "beta", "params": [[1.0, 1.0, 0.0]]}, 3)


def test_each_record_is_answered_by_the_rule_of_the_inputs_it_gave():
    y, p = overconfident(2 * MIN_ROWS + 100, seed=2)
    folds = np.arange(len(y)) % 5
    bare = SetPredictions((), y, p, folds)
    titled = SetPredictions(("title",), y, np.clip(p * 0.5, 0, 1), folds)
    few = SetPredictions(("plot",), y[:50], p[:50], folds[:50])  # too few: takes ()'s rule
    rules, chosen = fit_rules(["title", "plot"], [bare, titled, few])
    assert [s.inputs for s in rules.sets] == input_sets(["title", "plot"])
    plot = rules.for_inputs(["poster", "plot"])
    assert plot.fitted_on == 0 and plot.source == () and plot.rule is rules.for_inputs([]).rule
    both = rules.for_inputs(["title", "plot"])
    assert both.source == ("title",)  # its largest fitted subset
    probs, decided = rules.apply(p[:2], [["poster"], ["poster", "title"]])
    np.testing.assert_allclose(probs[0], rules.for_inputs([]).calibration.apply(p[:1])[0])
    np.testing.assert_allclose(probs[1], rules.for_inputs(["title"]).calibration.apply(
        p[1:2])[0])
    assert decided.shape == (2, 3) and decided.any(axis=1).all()  # at least one genre
    again = DecisionRules.from_json(rules.to_json(), 3)
    np.testing.assert_allclose(again.apply(p, [["title"]] * len(p))[0],
                               rules.apply(p, [["title"]] * len(p))[0], atol=1e-6)
    doc = rules.to_json()
    doc["sets"].pop()
    with pytest.raises(ValueError, match="one rule for each"):
        DecisionRules.from_json(doc, 3)
    assert chosen["method"] in ("platt", "beta")
