"""The decision rule: per-genre thresholds, the cap on genres per poster, the floor of one;
its JSON form; its fitting; and ``predict`` honouring it end to end on a real bundle."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sklearn.metrics import f1_score

from postergenre.evaluation.thresholds import (
    RULE_TYPE,
    DecisionRule,
    apply_thresholds,
    fit_decision,
    fit_thresholds,
    top_genres,
)
from postergenre.predict import predict_files, predict_records

from .bundles import GENRES, build_bundle, poster

RED, GREEN, BLUE = (220, 20, 20), (20, 220, 20), (20, 20, 220)
EXPECTED = {RED: "Horror", GREEN: "Drama", BLUE: "Comedy"}


@st.composite
def scores(draw, max_rows=6, max_genres=6):
    """(probabilities (n, G), thresholds (G,)) with ties and extremes allowed."""
    n = draw(st.integers(1, max_rows))
    g = draw(st.integers(1, max_genres))
    prob = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0]))
    p = np.array(draw(st.lists(st.lists(prob, min_size=g, max_size=g), min_size=n,
                               max_size=n)))
    thr = st.one_of(st.floats(0.001, 0.999), st.sampled_from([0.5]))
    t = np.array(draw(st.lists(thr, min_size=g, max_size=g)))
    return p, t


# --- the cap -----------------------------------------------------------------------------


def test_cap_keeps_the_most_probable_genres_over_threshold():
    p = np.array([[0.9, 0.6, 0.7, 0.2], [0.1, 0.2, 0.3, 0.4], [0.55, 0.9, 0.8, 0.7]])
    t = np.full(4, 0.5)
    got = apply_thresholds(p, t, max_genres=2)
    assert got.tolist() == [[True, False, True, False], [False] * 4,
                            [False, True, True, False]]
    assert apply_thresholds(p, t, max_genres=4).tolist() == apply_thresholds(p, t).tolist()
    assert apply_thresholds(p, t, max_genres=9).tolist() == apply_thresholds(p, t).tolist()


def test_cap_counts_the_most_probable_genres_even_under_threshold():
    """The documented (stricter) rule: decided = over threshold AND among the K most probable.
    Genre 0 is the most probable but under its threshold, so a cap of one decides nothing
    and ``at_least_one`` then picks the best p/t genre."""
    p = np.array([[0.9, 0.8, 0.3]])
    t = np.array([0.95, 0.95, 0.1])
    assert apply_thresholds(p, t).tolist() == [[False, False, True]]
    assert apply_thresholds(p, t, max_genres=1).tolist() == [[False, False, False]]
    assert apply_thresholds(p, t, max_genres=3).tolist() == [[False, False, True]]
    assert apply_thresholds(p, t, max_genres=1, at_least_one=True).tolist() == [
        [False, False, True]]


@settings(max_examples=300, deadline=None)
@given(data=scores(), k=st.integers(1, 7))
def test_cap_property(data, k):
    p, t = data
    above = p >= t
    got = apply_thresholds(p, t, max_genres=k)
    assert got.dtype == bool and got.shape == p.shape
    assert (got.sum(axis=1) <= k).all()
    assert not (got & ~above).any(), "a genre under its threshold was decided"
    for row in range(len(p)):
        top = set(np.argsort(-p[row], kind="stable")[:k].tolist())
        expected = {j for j in range(p.shape[1]) if above[row, j] and j in top}
        assert set(np.flatnonzero(got[row]).tolist()) == expected, f"row {row}"
    rule = DecisionRule(t, k, False)
    assert rule.apply(p).tolist() == got.tolist()


@settings(max_examples=300, deadline=None)
@given(data=scores(), k=st.one_of(st.none(), st.integers(1, 7)))
def test_at_least_one_property(data, k):
    p, t = data
    plain = apply_thresholds(p, t, max_genres=k)
    got = apply_thresholds(p, t, max_genres=k, at_least_one=True)
    assert DecisionRule(t, k, True).apply(p).tolist() == got.tolist()
    for row in range(len(p)):
        if plain[row].any():
            assert got[row].tolist() == plain[row].tolist(), "a row with genres was changed"
            continue
        assert got[row].sum() == 1, "an empty row must get exactly one genre"
        ratio = p[row] / t
        assert ratio[got[row]][0] == ratio.max(), "not the best p / t"
    if k is not None:
        assert (got.sum(axis=1) <= k).all()
    assert (got.sum(axis=1) >= 1).all()


def test_at_least_one_ranks_by_ratio_not_by_probability():
    p = np.array([[0.4, 0.09, 0.3]])
    t = np.array([0.8, 0.1, 0.9])
    assert apply_thresholds(p, t).sum() == 0
    assert apply_thresholds(p, t, at_least_one=True).tolist() == [[False, True, False]]
    assert apply_thresholds(p, t, at_least_one=True, max_genres=1).tolist() == [
        [False, True, False]]


def test_empty_input_and_shape_errors():
    assert apply_thresholds(np.zeros((0, 3)), [0.5] * 3, at_least_one=True,
                            max_genres=1).shape == (0, 3)
    with pytest.raises(ValueError):
        apply_thresholds(np.zeros((2, 3)), [0.5, 0.5])


# --- fitting the rule --------------------------------------------------------------------


def one_genre_posters(seed: int, n: int = 300, g: int = 4):
    """Every poster has exactly one genre, which it scores highest; other genres often score
    over the per-genre F1 thresholds too, so uncapped thresholds give ~1.5 genres each."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, g, n)
    y = np.eye(g, dtype=int)[truth]
    p = np.where(rng.random((n, g)) < 0.35, rng.uniform(0.4, 0.8, (n, g)),
                 rng.uniform(0, 0.4, (n, g)))
    p[np.arange(n), truth] = rng.uniform(0.55, 1.0, n)
    return y, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_decision_caps_when_posters_have_one_genre(seed):
    y, p = one_genre_posters(seed)
    thresholds = fit_thresholds(y, p)
    assert apply_thresholds(p, thresholds).sum(axis=1).mean() > 1.3  # the premise
    rule = fit_decision(y, p)
    assert rule.max_genres == 1
    # the thresholds are fitted under the cap: among each genre's posters where it is top
    np.testing.assert_array_equal(rule.thresholds,
                                  fit_thresholds(y, p, eligible=top_genres(p, 1)))
    assert rule.at_least_one is True
    assert (rule.apply(p).sum(axis=1) == 1).all()
    assert fit_decision(y, p, at_least_one=False).at_least_one is False


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_decision_thresholds_beat_uncapped_ones_under_its_cap(seed):
    """Under the chosen cap, each genre's F1 is at least that of thresholds fitted without it."""
    y, p = one_genre_posters(seed)
    rule = fit_decision(y, p, at_least_one=False)
    uncapped = DecisionRule(fit_thresholds(y, p), rule.max_genres, False).apply(p)
    for g in range(y.shape[1]):
        assert (f1_score(y[:, g], rule.apply(p)[:, g], zero_division=0)
                >= f1_score(y[:, g], uncapped[:, g], zero_division=0) - 1e-12)


def test_fit_decision_leaves_uncapped_what_needs_no_cap():
    rng = np.random.default_rng(5)
    y = (rng.random((200, 5)) < 0.45).astype(int)
    y[:4] = [[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 0, 1]]
    y[y.sum(axis=1) == 0, 0] = 1  # every poster has a genre, so the floor of one changes nothing
    p = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.05, y.shape), 0.01, 0.99)  # separable
    rule = fit_decision(y, p)
    assert rule.max_genres is None or rule.max_genres >= y.sum(axis=1).max()
    np.testing.assert_array_equal(rule.apply(p), y.astype(bool))


def test_fit_decision_only_tries_the_caps_it_is_given():
    y, p = one_genre_posters(0)
    assert fit_decision(y, p, max_genres_choices=(None, 3)).max_genres in (None, 3)


# --- JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [
    DecisionRule(np.array([0.3, 0.5, 0.7], np.float32), None, True),
    DecisionRule(np.array([0.01, 0.99], np.float32), 1, False),
    DecisionRule(np.array([0.123456789], np.float64), 6, True),
])
def test_rule_json_round_trip(rule):
    d = json.loads(json.dumps(rule.to_json(), allow_nan=False))
    assert d["type"] == RULE_TYPE
    back = DecisionRule.from_json(d, len(rule.thresholds))
    np.testing.assert_array_equal(back.thresholds, rule.thresholds)  # exact: kept as float64
    assert (back.max_genres, back.at_least_one) == (rule.max_genres, rule.at_least_one)
    assert back.to_json() == DecisionRule.from_json(back.to_json(), len(rule.thresholds)).to_json()


@given(t=st.lists(st.floats(0, 1, exclude_min=True, exclude_max=True), min_size=1, max_size=5))
def test_accepted_thresholds_stay_strictly_inside_0_1(t):
    """Whatever ``from_json`` accepts must still be a usable threshold once stored: a
    threshold that rounds to 0 would decide the genre for every poster (p >= 0)."""
    d = {"type": RULE_TYPE, "thresholds": t, "max_genres": None, "at_least_one": False}
    try:
        rule = DecisionRule.from_json(d, len(t))
    except ValueError:
        return
    assert np.all((rule.thresholds > 0) & (rule.thresholds < 1)), rule.thresholds
    assert not rule.apply(np.zeros((1, len(t)))).any()
    assert rule.apply(np.ones((1, len(t)))).all()


@pytest.mark.parametrize("t", [1e-50, 1 - 1e-9])
def test_threshold_that_float32_cannot_hold_is_not_silently_rounded(t):
    """1e-50 passes a float64 ``0 < t < 1`` check but is 0.0 as float32: a rule that would
    decide the genre for every poster. Refuse it, or keep it strictly inside (0, 1)."""
    d = {"type": RULE_TYPE, "thresholds": [0.5, t], "max_genres": None, "at_least_one": False}
    try:
        rule = DecisionRule.from_json(d, 2)
    except ValueError as e:
        assert "decision.thresholds" in str(e)
        return
    assert 0 < rule.thresholds[1] < 1, rule.thresholds
    assert rule.apply(np.array([[0.0, 0.0]])).tolist() == [[False, False]]


_DROP = object()


def _valid(**change):
    d = {"type": RULE_TYPE, "thresholds": [0.2, 0.5, 0.8], "max_genres": 2,
         "at_least_one": True}
    d.update(change)
    return {k: v for k, v in d.items() if v is not _DROP}


@pytest.mark.parametrize("d, field", [
    (_valid(thresholds=[0.2, math.nan, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, math.inf, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, 0.0, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, 1.0, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, -0.5, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, 0.5]), "decision.thresholds"),
    (_valid(thresholds=[0.2, 0.5, 0.8, 0.9]), "decision.thresholds"),
    (_valid(thresholds=[0.2, True, 0.8]), "decision.thresholds"),
    (_valid(thresholds=[0.2, "0.5", 0.8]), "decision.thresholds"),
    (_valid(thresholds=None), "decision.thresholds"),
    (_valid(thresholds=_DROP), "decision.thresholds"),
    (_valid(max_genres=True), "decision.max_genres"),
    (_valid(max_genres=False), "decision.max_genres"),
    (_valid(max_genres=0), "decision.max_genres"),
    (_valid(max_genres=-1), "decision.max_genres"),
    (_valid(max_genres=1.5), "decision.max_genres"),
    (_valid(max_genres=2.0), "decision.max_genres"),
    (_valid(max_genres="2"), "decision.max_genres"),
    (_valid(at_least_one="yes"), "decision.at_least_one"),
    (_valid(at_least_one=1), "decision.at_least_one"),
    (_valid(at_least_one=_DROP), "decision.at_least_one"),
    (_valid(type="thresholds"), "decision"),
    (_valid(type=_DROP), "decision"),
    ([0.2, 0.5, 0.8], "decision"),
    (None, "decision"),
], ids=lambda v: None if isinstance(v, str) else repr(v)[:60])
def test_rule_from_json_refusals(d, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        DecisionRule.from_json(d, 3)


def test_rule_from_json_accepts_a_missing_cap_as_none():
    assert DecisionRule.from_json(_valid(max_genres=_DROP), 3).max_genres is None


# --- predict honours the rule ------------------------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """The toy bundle with every threshold tiny, so only the cap of one limits the genres."""
    from postergenre.bundle import load_bundle

    rule = DecisionRule(np.full(len(GENRES), 0.01, np.float32), 1, False)
    return load_bundle(build_bundle(tmp_path_factory.mktemp("capped") / "model", rule))


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(poster(colour, seed=3)).save(buf, format="PNG")
    return buf.getvalue()


def test_predict_gives_one_genre_each_the_most_probable(capped, tmp_path):
    red_file = tmp_path / "red.png"
    Image.fromarray(poster(RED, size=(90, 130), seed=4)).save(red_file)
    blue_file = tmp_path / "blue.jpg"
    Image.fromarray(poster(BLUE, size=(182, 268), seed=5)).save(blue_file, quality=95)
    records = [
        ({"poster": poster(RED)}, RED),
        ({"poster": Image.fromarray(poster(GREEN, seed=1))}, GREEN),
        ({"poster": _png(BLUE)}, BLUE),
        ({"poster": str(red_file)}, RED),
        ({"poster": blue_file, "title": "ignored: not an input of this bundle"}, BLUE),
        ({"poster": Image.fromarray(poster(GREEN, seed=2)).convert("RGBA")}, GREEN),
        ({"poster": memoryview(_png(RED))}, RED),
    ]
    labels = [f"r{i}" for i in range(len(records))]
    preds = list(predict_records(capped, [r for r, _ in records], labels, batch_size=3))
    assert [p.source for p in preds] == labels
    for pred, (_, colour) in zip(preds, records, strict=True):
        assert pred.error is None, pred
        probs = pred.probabilities
        assert set(probs) == set(GENRES)
        assert min(probs.values()) > 0.01  # every genre clears its threshold: the cap decides
        assert pred.genres == [max(probs, key=probs.get)] == [EXPECTED[colour]]
        assert list(probs.values()) == sorted(probs.values(), reverse=True)


def test_unusable_records_yield_errors_in_place(capped, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    records = [
        {"poster": poster(RED)},
        {},
        {"poster": 42},
        {"poster": b"junk bytes"},
        {"poster": poster(GREEN)},
        {"poster": np.zeros((4, 4), np.uint8)},
        {"poster": np.zeros((4, 4, 3), np.float32)},
        {"poster": tmp_path / "missing.png"},
        {"poster": None},
        {"poster": str(tmp_path / "broken.jpg")},
        {"poster": poster(BLUE)},
    ]
    labels = [f"movie {i}" for i in range(len(records))]
    good = {0: "Horror", 4: "Drama", 10: "Comedy"}
    for batch_size in (1, 2, 64):
        preds = list(predict_records(capped, records, labels, batch_size=batch_size, workers=3))
        assert [p.source for p in preds] == labels
        for i, pred in enumerate(preds):
            if i in good:
                assert pred.error is None and pred.genres == [good[i]], (batch_size, pred)
            else:
                assert pred.probabilities is None and pred.genres == [], (batch_size, pred)
                assert isinstance(pred.error, str) and pred.error.strip(), (batch_size, pred)
                assert "\n" not in pred.error
        assert preds[1].error == preds[8].error == "no poster given"
        assert "int" in preds[2].error
        assert "not an image" in preds[3].error and "not an image" in preds[9].error
        assert "uint8" in preds[5].error and "uint8" in preds[6].error
        assert preds[1].to_json()["error"] == "no poster given"


def test_probabilities_do_not_depend_on_the_batch(capped):
    records = [{"poster": poster(c, seed=i)} for i, c in enumerate([RED, GREEN, BLUE] * 3)]
    labels = [str(i) for i in range(len(records))]
    runs = [[p.probabilities for p in predict_records(capped, records, labels, batch_size=b)]
            for b in (1, 4, 16)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert a == pytest.approx(b, abs=1e-6)


def test_predict_files_labels_by_path_and_keeps_going(capped, tmp_path):
    paths = []
    for i, colour in enumerate([GREEN, BLUE]):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(poster(colour, seed=i)).save(paths[-1])
    (tmp_path / "bad.png").write_bytes(b"")
    paths.insert(1, tmp_path / "bad.png")
    preds = list(predict_files(capped, paths, batch_size=1))
    assert [p.source for p in preds] == [str(p) for p in paths]
    assert [p.genres for p in preds] == [["Drama"], [], ["Comedy"]]
    assert "empty" in preds[1].error


def test_predict_refuses_a_batch_size_below_one(capped):
    with pytest.raises(ValueError, match="batch_size"):
        list(predict_records(capped, [{"poster": poster(RED)}], ["x"], batch_size=0))
