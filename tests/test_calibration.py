"""Calibration maps and the calibrated decision rule per set of inputs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from postergenre.evaluation.bootstrap import calibration_shift
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
    cross_fitted,
    fit_rules,
    input_sets,
)
from postergenre.report.curves import by_inputs
from postergenre.report.html import Numbers
from postergenre.training.record import RunRecord

from .records import fake_record


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


def test_each_rounds_rules_are_fitted_without_its_fold():
    y, p = overconfident(2000, seed=3)
    folds = np.arange(len(y)) % 4
    preds = [SetPredictions((), y, p, folds), SetPredictions(("title",), y, p ** 2, folds)]
    rounds = cross_fitted(["title"], preds, 4)
    assert len(rounds) == 4
    for k, rules in enumerate(rounds):
        alone, _ = fit_rules(["title"], [SetPredictions(q.inputs, q.y[folds != k],
                                                        q.prob[folds != k], folds[folds != k])
                                         for q in preds], method="beta")
        assert rules.to_json() == alone.to_json()
        wild = [SetPredictions(q.inputs, q.y, np.where(folds[:, None] == k, 1 - q.prob, q.prob),
                               folds)
                for q in preds]  # round k's own predictions changed: its rules are not
        assert cross_fitted(["title"], wild, 4)[k].to_json() == rules.to_json()
    assert rounds[0].to_json() != rounds[1].to_json()
    with pytest.raises(ValueError, match="two CV rounds"):
        cross_fitted(["title"], preds, 1)


def test_calibration_shift_brackets_its_figures_and_shows_the_gain():
    y, p = overconfident(3000)
    after = fit_calibration(y[:1500], p[:1500], "beta").apply(p[1500:])
    shift = calibration_shift(y[1500:], p[1500:], after, n_boot=200, seed=1)
    for when in ("before", "after"):
        s = shift[when]
        assert s["ece_ci"][0] <= s["ece"] <= s["ece_ci"][1]
        assert s["brier_ci"][0] <= s["brier"] <= s["brier_ci"][1]
        assert sum(s["count"]) == y[1500:].size
        assert s["ece"] == pytest.approx(ece(y[1500:], p[1500:] if when == "before" else after))
    assert shift["after"]["ece_ci"][1] < shift["before"]["ece_ci"][0]
    assert shift["after"]["brier"] < shift["before"]["brier"]
    assert shift == calibration_shift(y[1500:], p[1500:], after, n_boot=200, seed=1)


def test_report_shows_reliability_before_and_after_for_each_input_set():
    y, p = overconfident(1000)
    after = fit_calibration(y, p, "platt").apply(p)
    doc = fake_record("fusion", "s", 0.4, ["A", "B", "C"])
    doc["calibration"] = {label: calibration_shift(y, p, after, n_boot=100)
                          for label in ("poster", "poster+title")}
    record = RunRecord.from_json(doc, "test")
    html = by_inputs(SimpleNamespace(record=record), Numbers(record))
    for label in ("poster", "poster+title"):
        for when in ("before", "after"):
            path = f'[&quot;calibration&quot;, &quot;{label}&quot;, &quot;{when}&quot;, '
            assert path + '&quot;ece&quot;]' in html and path + '&quot;brier&quot;]' in html
    assert html.count("data:image/png;base64,") == 1
    assert "ECE before" in html and "Brier after" in html
