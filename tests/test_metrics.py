"""Evaluation layer: metrics agree with scikit-learn, edge cases, thresholds, baselines,
plots and the Markdown report. All on small seeded arrays (fast)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from postergenre.evaluation import (
    apply_thresholds,
    best_constant_label_set,
    compute_metrics,
    evaluate_baselines,
    fit_thresholds,
    render_markdown,
    render_rich_table,
    summarise_folds,
    thresholds_to_dict,
)
from postergenre.evaluation.metrics import HEADLINE, SCALAR_KEYS

pytestmark = pytest.mark.filterwarnings("error")  # no warning spam, rare genres included

GENRES = ["Drama", "Comedy", "Action", "Horror", "Noir"]


def random_data(n=200, seed=0, prevalence=(0.5, 0.3, 0.15, 0.08, 0.03)):
    rng = np.random.default_rng(seed)
    y_true = (rng.random((n, len(prevalence))) < np.array(prevalence)).astype(int)
    y_prob = np.clip(0.35 * y_true + rng.random(y_true.shape) * 0.65, 0, 1)
    y_pred = y_prob >= 0.5
    return y_true, y_prob, y_pred


def test_metrics_agree_with_sklearn():
    y_true, y_prob, y_pred = random_data()
    m = compute_metrics(y_true, y_prob, y_pred, GENRES)

    for avg in ("micro", "macro", "weighted", "samples"):
        expected = f1_score(y_true, y_pred, average=avg, zero_division=0)
        assert m[f"{avg}_f1"] == pytest.approx(expected)
    for avg in ("micro", "macro"):
        p = precision_score(y_true, y_pred, average=avg, zero_division=0)
        r = recall_score(y_true, y_pred, average=avg, zero_division=0)
        assert m[f"{avg}_precision"] == pytest.approx(p)
        assert m[f"{avg}_recall"] == pytest.approx(r)
    assert m["macro_map"] == pytest.approx(average_precision_score(y_true, y_prob, average="macro"))
    assert m["micro_ap"] == pytest.approx(average_precision_score(y_true, y_prob, average="micro"))
    assert m["macro_roc_auc"] == pytest.approx(roc_auc_score(y_true, y_prob, average="macro"))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(y_true, y_pred))
    assert m["subset_accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["label_cardinality_true"] == pytest.approx(y_true.sum(1).mean())
    assert m["label_cardinality_pred"] == pytest.approx(y_pred.sum(1).mean())

    for g, name in enumerate(GENRES):
        pg = m["per_genre"][name]
        assert pg["support"] == y_true[:, g].sum()
        assert pg["prevalence"] == pytest.approx(y_true[:, g].mean())
        assert pg["ap"] == pytest.approx(average_precision_score(y_true[:, g], y_prob[:, g]))
        assert pg["roc_auc"] == pytest.approx(roc_auc_score(y_true[:, g], y_prob[:, g]))
        assert pg["f1"] == pytest.approx(f1_score(y_true[:, g], y_pred[:, g], zero_division=0))
    assert m["macro_f1"] == pytest.approx(np.mean([v["f1"] for v in m["per_genre"].values()]))
    assert m["ap_skipped_genres"] == [] and m["roc_auc_skipped_genres"] == []


def test_metrics_are_plain_json_types():
    m = compute_metrics(*random_data(), GENRES)
    assert json.loads(json.dumps(m)) == m
    for key in SCALAR_KEYS:
        assert type(m[key]) in (int, float), key
    assert all(type(v) in (int, float) for v in m["per_genre"]["Drama"].values())


def test_genre_without_positives_or_negatives_is_none_not_a_crash():
    y_true, y_prob, y_pred = random_data()
    y_true[:, 4] = 0  # Noir: no positives
    y_true[:, 0] = 1  # Drama: no negatives
    m = compute_metrics(y_true, y_prob, y_pred, GENRES)
    noir, drama = m["per_genre"]["Noir"], m["per_genre"]["Drama"]
    assert noir["ap"] is None and noir["roc_auc"] is None
    assert noir["recall"] == 0.0 and noir["support"] == 0
    assert drama["ap"] == pytest.approx(1.0) and drama["roc_auc"] is None
    assert m["ap_skipped_genres"] == ["Noir"]
    assert m["roc_auc_skipped_genres"] == ["Drama", "Noir"]
    defined = [m["per_genre"][g]["ap"] for g in GENRES[:4]]
    assert m["macro_map"] == pytest.approx(np.mean(defined))


def test_all_zero_predictions_give_zero_f1():
    y_true, y_prob, _ = random_data()
    m = compute_metrics(y_true, y_prob, np.zeros_like(y_true, dtype=bool), GENRES)
    for key in ("micro_f1", "macro_f1", "samples_f1", "micro_precision", "macro_recall"):
        assert m[key] == 0.0
    assert m["label_cardinality_pred"] == 0.0
    assert m["hamming_loss"] == pytest.approx(y_true.mean())


def test_no_positives_at_all():
    y_true = np.zeros((6, 2), dtype=int)
    m = compute_metrics(y_true, np.full((6, 2), 0.3), np.zeros((6, 2), bool), ["a", "b"])
    assert m["macro_map"] is None and m["micro_ap"] is None and m["macro_roc_auc"] is None
    assert m["subset_accuracy"] == 1.0


@pytest.mark.parametrize(
    "y_prob, y_pred, genres",
    [
        (np.zeros((4, 3)), np.zeros((4, 2), bool), ["a", "b"]),  # shape mismatch
        (np.full((4, 2), np.nan), np.zeros((4, 2), bool), ["a", "b"]),  # NaN scores
        (np.zeros((4, 2)), np.zeros((4, 2), bool), ["a"]),  # wrong number of names
    ],
)
def test_bad_inputs_raise(y_prob, y_pred, genres):
    with pytest.raises(ValueError):
        compute_metrics(np.zeros((4, 2), int), y_prob, y_pred, genres)


def test_summarise_folds_mean_and_std():
    folds = [compute_metrics(*random_data(seed=s), GENRES) for s in range(4)]
    folds[1]["per_genre"]["Noir"]["ap"] = None  # undefined in one fold
    s = summarise_folds(folds)
    assert s["n_folds"] == 4
    micro = [f["micro_f1"] for f in folds]
    assert s["metrics"]["micro_f1"]["mean"] == pytest.approx(np.mean(micro))
    assert s["metrics"]["micro_f1"]["std"] == pytest.approx(np.std(micro, ddof=1))
    assert set(SCALAR_KEYS) <= set(s["metrics"])
    noir = [folds[i]["per_genre"]["Noir"]["ap"] for i in (0, 2, 3)]
    assert s["per_genre_ap"]["Noir"] == {
        "mean": pytest.approx(np.mean(noir)),
        "std": pytest.approx(np.std(noir, ddof=1)),
        "n": 3,
    }
    assert json.loads(json.dumps(s, allow_nan=False)) == s  # plain JSON, no NaN
    single = summarise_folds(folds[:1])
    assert single["metrics"]["micro_f1"]["std"] is None


def _best_f1_by_brute_force(y, score):
    return max(f1_score(y, score >= c, zero_division=0) for c in np.unique(score))


def test_fit_thresholds_maximise_f1_on_the_given_data():
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 0])
    s = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.72, 0.9, 0.15])
    y_true = np.stack([y, y[::-1]], axis=1)
    y_prob = np.stack([s, s[::-1]], axis=1)
    t = fit_thresholds(y_true, y_prob, min_positives=1)
    assert t.shape == (2,) and t.dtype == np.float64
    for g in range(2):
        achieved = f1_score(y_true[:, g], y_prob[:, g] >= t[g])
        assert achieved == pytest.approx(_best_f1_by_brute_force(y_true[:, g], y_prob[:, g]))
        # halfway between two scores that occur in the data, so not on top of either
        below, above = s[s < t[g]].max(), s[s >= t[g]].min()
        assert t[g] == pytest.approx((below + above) / 2)


def test_fit_thresholds_random_data_matches_brute_force():
    y_true, y_prob, _ = random_data(n=150, seed=3)
    t = fit_thresholds(y_true, y_prob, min_positives=1)
    for g in range(len(GENRES)):
        achieved = f1_score(y_true[:, g], y_prob[:, g] >= t[g], zero_division=0)
        assert achieved == pytest.approx(_best_f1_by_brute_force(y_true[:, g], y_prob[:, g]))


def test_fit_thresholds_among_eligible_rows_match_brute_force():
    y_true, y_prob, _ = random_data(n=150, seed=4)
    eligible = np.random.default_rng(4).random(y_prob.shape) < 0.6  # e.g. a cap's top genres
    t = fit_thresholds(y_true, y_prob, min_positives=1, eligible=eligible)
    for g in range(len(GENRES)):
        decided = lambda c, g=g: (y_prob[:, g] >= c) & eligible[:, g]  # noqa: E731
        best = max(f1_score(y_true[:, g], decided(c), zero_division=0)
                   for c in np.unique(y_prob[eligible[:, g], g]))
        assert f1_score(y_true[:, g], decided(t[g]), zero_division=0) == pytest.approx(best)
    nothing = fit_thresholds(y_true, y_prob, min_positives=1, eligible=np.zeros_like(eligible))
    assert np.all(nothing == 0.99)  # no poster can be decided: never, at the clip
    with pytest.raises(ValueError, match="eligible"):
        fit_thresholds(y_true, y_prob, eligible=eligible[:, :2])


def test_fit_thresholds_guards():
    y_true, y_prob, _ = random_data(n=100, seed=1)
    y_true[:, 4] = 0
    y_true[:3, 4] = 1  # 3 positives < min_positives=5 -> fallback
    t = fit_thresholds(y_true, y_prob, min_positives=5, fallback=0.4)
    assert t[4] == 0.4
    assert np.all((t >= 0.01) & (t <= 0.99))
    clipped = fit_thresholds(y_true, y_prob * 0.001, min_positives=1, min_threshold=0.05)
    assert np.all(clipped >= 0.05)
    assert np.all(fit_thresholds(y_true, y_prob, "fixed", fallback=0.3) == 0.3)
    with pytest.raises(ValueError):
        fit_thresholds(y_true, y_prob, "magic")
    as_json = json.loads(json.dumps(thresholds_to_dict(t, GENRES)))
    assert as_json["Noir"] == 0.4 and all(type(v) is float for v in as_json.values())


def test_apply_thresholds_and_at_least_one():
    y_prob = np.array([[0.9, 0.1, 0.2], [0.1, 0.2, 0.05], [0.0, 0.0, 0.0]])
    t = np.array([0.5, 0.5, 0.1])
    plain = apply_thresholds(y_prob, t)
    assert plain.dtype == bool
    assert plain.tolist() == [[True, False, True], [False, False, False], [False] * 3]
    forced = apply_thresholds(y_prob, t, at_least_one=True)
    assert forced[0].tolist() == plain[0].tolist()  # rows with a genre are untouched
    assert forced[1].tolist() == [False, False, True]  # 0.05/0.1 beats 0.2/0.5
    assert forced.sum(axis=1).min() == 1


# Train: 10 posters; counts A=6, B=4, C=1 -> constant-set micro-F1: {A}=12/21, {A,B}=20/31,
# {A,B,C}=22/41, so the best constant set is {A, B}.
Y_TRAIN = np.array(
    [[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [1, 1, 0]]
    + [[0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
)
Y_EVAL = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])


def test_best_constant_label_set_is_exact():
    mask = best_constant_label_set(Y_TRAIN)
    assert mask.tolist() == [True, True, False]
    best = max(
        f1_score(Y_TRAIN, np.broadcast_to(np.array(s, bool), Y_TRAIN.shape), average="micro")
        for s in itertools.product([0, 1], repeat=3)
        if any(s)
    )
    assert f1_score(Y_TRAIN, np.broadcast_to(mask, Y_TRAIN.shape), average="micro") == best


def test_baselines_on_a_tiny_label_matrix():
    b = evaluate_baselines(Y_TRAIN, Y_EVAL, ["A", "B", "C"], min_positives=1)
    const = b["best_constant"]
    assert const["baseline"]["label_set"] == ["A", "B"]
    # predict {A,B} for 4 posters: TP=4, FP=4, FN=1 -> micro-F1 = 8/13
    assert const["micro_f1"] == pytest.approx(8 / 13)
    assert const["per_genre"]["A"]["f1"] == pytest.approx(2 / 3)
    assert const["per_genre"]["C"]["f1"] == 0.0
    # constant scores: AP = evaluation prevalence, ROC AUC = 0.5
    for m in b.values():
        for g, prevalence in zip("ABC", (0.5, 0.5, 0.25), strict=True):
            assert m["per_genre"][g]["ap"] == pytest.approx(prevalence)
            assert m["per_genre"][g]["roc_auc"] == pytest.approx(0.5)
    # per-genre F1 rule on constant scores: every genre with a training positive, for everyone
    prev = b["prevalence"]
    assert prev["baseline"]["label_set"] == ["A", "B", "C"]
    assert prev["label_cardinality_pred"] == 3.0
    assert prev["micro_f1"] == pytest.approx(2 * 5 / (5 + 12))


def test_plots_write_png_files(tmp_path):
    from postergenre.evaluation.plots import (
        plot_ap_vs_baseline,
        plot_genre_counts,
        plot_pr_curves,
        plot_roc_curves,
    )

    y_true, y_prob, y_pred = random_data(n=60)
    y_true[:, 4] = 0  # a genre with nothing to draw
    m = compute_metrics(y_true, y_prob, y_pred, GENRES)
    paths = [
        plot_ap_vs_baseline(m, tmp_path / "ap.png"),
        plot_roc_curves(y_true, y_prob, GENRES, tmp_path / "roc.png"),
        plot_pr_curves(y_true, y_prob, GENRES, tmp_path / "pr.png"),
        plot_genre_counts({"Drama": 50, "Comedy": 30, "Noir": 0}, tmp_path / "sub" / "counts.png"),
    ]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["ap.png", "roc.png", "pr.png", "counts.png"]
    )  # no temporary files left behind


def test_markdown_report_contains_the_numbers():
    y_true, y_prob, _ = random_data(n=120)
    y_true[:, 4] = 0
    t = fit_thresholds(y_true, y_prob, min_positives=1)
    m = compute_metrics(y_true, y_prob, apply_thresholds(y_prob, t), GENRES)
    folds = [compute_metrics(*random_data(seed=s), GENRES) for s in range(3)]
    cv = summarise_folds(folds)
    b = evaluate_baselines(random_data(n=300, seed=9)[0], y_true, GENRES)
    md = render_markdown(m, cv, b, title="Poster genres")

    assert md.startswith("# Poster genres")
    for key in ("macro_map", "macro_f1", "micro_f1", "samples_f1", "hamming_loss"):
        assert f"{m[key]:.3f}" in md
    mean, std = cv["metrics"]["micro_f1"]["mean"], cv["metrics"]["micro_f1"]["std"]
    assert f"{mean:.3f} ± {std:.3f}" in md
    assert f"{b['best_constant']['micro_f1']:.3f}" in md
    assert "baseline: prevalence" in md and "baseline: best_constant" in md
    wins = sum(v["ap"] > v["prevalence"] for v in m["per_genre"].values() if v["ap"] is not None)
    assert f"beats the prevalence baseline on {wins}/4 genres" in md
    assert "| Drama | " in md and "Noir" in md
    assert f"{m['per_genre']['Action']['ap']:.3f}" in md

    plain = render_markdown(m, None, None)
    assert "CV mean" not in plain and "baseline:" not in plain
    assert render_rich_table(m, cv, b).row_count == len(HEADLINE)
