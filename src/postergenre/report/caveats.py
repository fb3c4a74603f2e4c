"""Honest caveats, written from the run's numbers: what the test part is and is not, genres too
rare to trust, wide intervals, genres no better than no information, CV spread, calibration."""

from __future__ import annotations

from ..evaluation.metrics import LABELS
from . import html as H
from .load import Run

FEW_TEST = 30  # test positives below which a genre's figures are anecdotes
FEW_TRAIN = 100  # training examples below which a genre is hard to learn
WIDE = 0.15  # an AP interval wider than this says little
SPREAD = 0.02  # a CV std above this is worth a word
POOR_ECE = 0.05


def caveats_section(run: Run, nums: H.Numbers, ci: dict, ece: float,
                    train_counts: dict[str, int]) -> str:
    items = [_test_part(run, nums)]
    items += _rare(run, nums, train_counts)
    items += _intervals(run, nums, ci)
    items += _spread(run, nums)
    items.append(
        f"Calibration: the expected calibration error is {nums.value('ece.all', ece)}; "
        + ("the probabilities are close to how often they come true, on average over genres."
           if ece <= POOR_ECE else
           "read the probabilities as scores for ranking, not as chances."))
    dropped = run.record.data.dropped_genres
    if dropped:
        items.append(f"The model never predicts {H.esc(', '.join(dropped))}: fewer than "
                     f"{nums.metric('config', 'min_support', spec='d')} training examples each.")
    return '<ul class="caveats">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _test_part(run: Run, nums: H.Numbers) -> str:
    reads = sorted({i.split(":")[0] for i in run.record.model.inputs})
    return (f"<b>What the test part is.</b> {nums.metric('data', 'n_test', spec='d')} movies of "
            f"the same dataset, set aside by a stratified split (seed "
            f"{nums.metric('split', 'seed', spec='d')}) before any training: no fold model, "
            "threshold or cap saw them, and they were scored once. <b>What it is not.</b> "
            "It is not a sample of another studio's catalogue, of other years or of another "
            "poster style; its labels are the dataset's own, errors included; the model reads "
            f"only the {H.esc(' and '.join(reads) or 'inputs')}. The bootstrap intervals cover "
            "which movies happened to be in the test part, not the variation between "
            "trainings (see the CV spread) nor a shift to other data.")


def _rare(run: Run, nums: H.Numbers, train_counts: dict[str, int]) -> list[str]:
    pg = run.record.test.per_genre
    few = [g for g in run.genres if pg[g].support < FEW_TEST]
    out = []
    if few:
        listed = ", ".join(f"{H.esc(g)} ({nums.metric('test', 'per_genre', g, 'support', spec='d')}"
                           ")" for g in sorted(few, key=lambda g: pg[g].support))
        out.append(f"<b>Too few test posters to trust</b> (under {FEW_TEST}): {listed}. Their "
                   "per-genre figures can move a lot with a handful of posters.")
    thin = [g for g in run.genres if g in train_counts and train_counts[g] < FEW_TRAIN]
    if thin:
        listed = ", ".join(
            f"{H.esc(g)} ({nums.value(f'data.train_count.{g}', train_counts[g], 'd')})"
            for g in sorted(thin, key=lambda g: train_counts[g]))
        out.append(f"<b>Few training examples</b> (under {FEW_TRAIN}): {listed}.")
    return out


def _intervals(run: Run, nums: H.Numbers, ci: dict) -> list[str]:
    pg = run.record.test.per_genre
    out = []
    head = ci["metrics"]["macro_map"]
    if head:
        out.append(f"Test macro mAP is {nums.metric('test', 'macro_map')}, 95% interval "
                   f"{nums.interval('ci.test.macro_map', head)}: differences between models "
                   "smaller than that interval are not shown by this test part.")
    wide = [g for g in run.genres
            if (b := ci["per_genre"][g]["ap"]) is not None and b[1] - b[0] > WIDE]
    if wide:
        listed = ", ".join(
            f"{H.esc(g)} {nums.interval(f'ci.per_genre.{g}.ap', ci['per_genre'][g]['ap'])}"
            for g in wide)
        out.append(f"<b>Wide intervals</b> (AP interval wider than {WIDE}): {listed}.")
    weak = [g for g in run.genres if (b := ci["per_genre"][g]["ap"]) is not None
            and b[0] <= pg[g].prevalence]
    if weak:
        listed = ", ".join(f"{H.esc(g)} (AP {nums.metric('test', 'per_genre', g, 'ap')}, "
                           f"prevalence {nums.metric('test', 'per_genre', g, 'prevalence')})"
                           for g in weak)
        out.append(f"<b>Not clearly better than no information</b> (the AP interval reaches "
                   f"the prevalence): {listed}.")
    return out


def _spread(run: Run, nums: H.Numbers) -> list[str]:
    summary = run.record.cv.summary.metrics
    final = run.record.cv.final or "the final model"
    out = []
    for key in ("macro_map", "macro_f1"):
        stats, label = summary.get(key), LABELS[key]
        mean, std = (None, None) if stats is None else (stats.mean, stats.std)
        test = getattr(run.record.test, key)
        if mean is None or std is None or test is None:
            continue
        path = ("cv", "summary", "metrics", key)
        text = (f"CV {label} {nums.metric(*path, 'mean')} ± {nums.metric(*path, 'std')} over "
                f"{nums.metric('cv', 'summary', 'n_folds', spec='d')} folds")
        if test - mean > 2 * std:
            text += (f"; the test figure {nums.metric('test', key)} is above twice that spread, "
                     f"partly as expected: the final model ({H.esc(final)}) is stronger than "
                     "any one fold model")
        elif mean - test > 2 * std:
            text += (f"; the test figure {nums.metric('test', key)} is below twice that spread: "
                     "the test part is harder than the folds, or choices made on the folds "
                     "flattered them")
        elif std > SPREAD:
            text += "; the folds disagree noticeably, so one split's figure is rough"
        else:
            text += f"; the test figure {nums.metric('test', key)} agrees with the folds"
        out.append(text + ".")
    return out
