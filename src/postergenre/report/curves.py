"""Curves and maps from the test probabilities and the fold histories: precision-recall and ROC
per genre, the reliability diagram with its ECE, which genres are predicted for which, and the
training curves of every fold."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from ..evaluation.calibration import BINS
from ..evaluation.calibration import reliability as calibration
from ..training.record import CalibrationShift
from . import html as H
from .figures import NEUTRAL, OTHER, figure, figure_uri, heatmap
from .load import Run

NCOLS = 5


def curves(run: Run, colours: dict[str, str]) -> str:
    """PR and ROC small multiples, one panel per genre in its colour, most frequent first;
    the dot is the operating point of the decision rule."""
    pg = run.record.test.per_genre
    order = sorted(run.genres, key=lambda g: (-pg[g].support, g))
    pr = _panels(run, order, colours, "pr")
    roc = _panels(run, order, colours, "roc")
    return (H.img(pr, "precision-recall curves per genre",
                  "Dashed: the genre's prevalence (no information). Dot: the precision and recall "
                  "of the decision rule.")
            + H.img(roc, "ROC curves per genre",
                    "Dashed: chance. Dot: the decision rule's false- and true-positive rates."))


def _panels(run: Run, order: list[str], colours: dict[str, str], kind: str) -> str:
    ncols = min(NCOLS, len(order))
    nrows = math.ceil(len(order) / ncols)
    height = 0.9 + 2.2 * nrows
    fig = figure(2.4 * ncols, height, layout=None)  # a fixed grid: quicker
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.45 / height, top=1 - 0.65 / height,
                        wspace=0.15, hspace=0.45)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    pg = run.record.test.per_genre
    for i, ax in enumerate(axes.flat):
        if i >= len(order):
            ax.set_axis_off()
            continue
        g = order[i]
        j = run.genres.index(g)
        y, p, d = run.y[:, j], run.prob[:, j], run.pred[:, j]
        ax.set_title(f"{g} (n={pg[g].support})", fontsize=9, color="#222")
        if kind == "pr" and y.any():
            precision, recall, _ = precision_recall_curve(y, p)
            ax.plot(recall, precision, color=colours[g], lw=1.6, drawstyle="steps-post")
            ax.axhline(y.mean(), color=OTHER, lw=1, ls="--")
            ax.plot(pg[g].recall, pg[g].precision, "o", color="black", ms=4, clip_on=False)
            ax.text(0.96, 0.95, f"AP {pg[g].ap:.3f}", transform=ax.transAxes, ha="right",
                    va="top", fontsize=8)
        elif kind == "roc" and 0 < y.sum() < len(y):
            fpr, tpr, _ = roc_curve(y, p)
            ax.plot(fpr, tpr, color=colours[g], lw=1.6)
            ax.plot([0, 1], [0, 1], color=OTHER, lw=1, ls="--")
            ax.plot((d & (y == 0)).sum() / (y == 0).sum(), (d & (y == 1)).sum() / y.sum(), "o",
                    color="black", ms=4, clip_on=False)
            ax.text(0.96, 0.05, f"AUC {pg[g].roc_auc:.3f}", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8)
        else:
            ax.text(0.5, 0.5, "undefined on the test part", ha="center", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7, labelbottom=True)
        if i % ncols == 0:
            ax.set_ylabel("precision" if kind == "pr" else "true-positive rate", fontsize=8)
        ax.set_xlabel("recall" if kind == "pr" else "false-positive rate", fontsize=8)
    fig.suptitle("Precision-recall curve per genre (test)" if kind == "pr"
                 else "ROC curve per genre (test)")
    return figure_uri(fig)


def reliability(run: Run, nums: H.Numbers, ci: dict) -> str:
    cal = calibration(run.y, run.prob)
    fig = figure(9, 4.2)
    top, hist = fig.subplots(1, 2, width_ratios=[1.2, 1])
    mids = (np.arange(BINS) + 0.5) / BINS
    seen = cal["count"] > 0
    top.plot([0, 1], [0, 1], color=OTHER, ls="--", lw=1, label="perfectly calibrated")
    top.bar(mids[seen], cal["observed"][seen], width=1 / BINS * 0.9, color=NEUTRAL, alpha=0.75,
            label="share truly of the genre")
    top.plot(cal["confidence"][seen], cal["observed"][seen], "o-", color="black", ms=4,
             label="bin: mean probability vs share true")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_xlabel("predicted probability")
    top.set_ylabel("share of (poster, genre) pairs that are true")
    top.set_title(f"Reliability, all genres (ECE {cal['ece']:.3f})")
    top.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncols=2)
    hist.bar(mids, cal["count"], width=1 / BINS * 0.9, color=NEUTRAL)
    hist.set_yscale("log")
    hist.set_xlabel("predicted probability")
    hist.set_ylabel("(poster, genre) pairs (log scale)")
    hist.set_title("How often each probability is given")
    return H.img(figure_uri(fig), "reliability diagram",
                 f"Expected calibration error {nums.value('ece.all', cal['ece'])} over "
                 f"{nums.value('ece.pairs', int(cal['count'].sum()), 'd')} (poster, genre) "
                 f"pairs in {BINS} equal-width bins: the average gap between the probability "
                 "given and how often it was right, weighted by how many pairs fall in the bin "
                 f"(95% bootstrap interval {nums.interval('ci.ece', ci['metrics']['ece'])}); "
                 f"Brier score {nums.metric('test', 'brier')} "
                 f"({nums.interval('ci.brier', ci['metrics']['brier'])})."
                 ) + by_inputs(run, nums)


def by_inputs(run: Run, nums: H.Numbers) -> str:
    """How the calibration was chosen (cross-fitted on out-of-fold predictions) and the
    test part's ECE and Brier score for each set of inputs given (the ablation's rows)."""
    decision = run.record.decision
    parts = []
    if decision.methods:
        rows = [[H.esc(m), nums.metric("decision", "methods", m, "ece"),
                 nums.metric("decision", "methods", m, "brier")] for m in decision.methods]
        parts.append(H.note(f"Probabilities are calibrated per genre and per set of inputs "
                            f"given ({H.esc(decision.calibration)}), on out-of-fold CV "
                            "predictions; each method below was fitted on four folds' "
                            "predictions and scored on the fifth's ('none': the model's "
                            "scores as they are).") + H.table(["method", "ECE", "Brier"], rows))
    shifts = run.record.calibration or {}
    if shifts:
        rows = [[H.esc(what), *(_with_ci(run, nums, what, when, key) for key in ("ece", "brier")
                                for when in ("before", "after"))] for what in shifts]
        parts.append(H.note("On the test part, by the inputs each movie was given (the other "
                            "inputs withheld): the model's scores before calibration and the "
                            "probabilities shown after it, each set by its own calibration "
                            "(95% bootstrap intervals over the test movies):")
                     + H.table(["inputs given", "ECE before", "ECE after", "Brier before",
                                "Brier after"], rows)
                     + H.img(_shift_figure(shifts), "reliability before and after calibration, "
                             "per set of inputs", "Grey: the model's scores; black: the "
                             "calibrated probabilities; dashed: perfect calibration."))
    return "".join(parts)


def confusion(run: Run, colours: dict[str, str]) -> str:
    """For the posters of each true genre, how often each genre was predicted."""
    support = run.y.sum(axis=0)
    share = (run.y.T.astype(float) @ run.pred.astype(float)) / np.maximum(support, 1)[:, None]
    rows = [f"{n} (n={s})" for n, s in zip(run.genres, support, strict=True)]
    fig = heatmap(share, rows, run.genres, "Purples", (
        "predicted genre", "true genre (test posters that have it)",
        "Which genres are predicted for which (% of the row's posters)"))
    return H.img(figure_uri(fig), "multi-label confusion view",
                 "A poster has several genres, so a row can add up to more than 100%: the "
                 "diagonal is the genre's recall; the rest of the row shows which other genres "
                 "its posters are given (rightly, when they have them too).")


def training_curves(run: Run, nums: H.Numbers) -> str:
    folds = run.history.folds
    if not folds or not any(folds):
        return H.note("The run recorded no per-epoch history.")
    best = run.record.cv.best_epochs
    ncols = min(len(folds), 3)
    nrows = math.ceil(len(folds) / ncols)
    fig = figure(4.4 * ncols, 1.2 + 3.0 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(folds) or not folds[k]:
            ax.set_axis_off()
            continue
        records = folds[k]
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(records)]
        losses = [key for key in records[0] if "loss" in key]
        scores = [key for key in records[0] if key.startswith("val_") and "loss" not in key]
        for key, style in zip(losses, ("-", "--", ":"), strict=False):
            ax.plot(epochs, [r.get(key) for r in records], style, color=NEUTRAL, label=key)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.tick_params(labelsize=7)
        if scores:
            twin = ax.twinx()
            for key, style in zip(scores, ("-", "--"), strict=False):
                twin.plot(epochs, [r.get(key) for r in records], style, color="#e65100",
                          marker=".", label=key)
            twin.set_ylabel(", ".join(scores), fontsize=8, color="#e65100")
            twin.tick_params(labelsize=7)
        if k < len(best):
            ax.axvline(best[k], color="black", ls=":", lw=1, label="best epoch")
        ax.set_title(f"fold model {k + 1}", fontsize=9)
    handles = [h for a in fig.axes for h in a.get_legend_handles_labels()[0]]
    labels = [lab for a in fig.axes for lab in a.get_legend_handles_labels()[1]]
    named = dict(zip(labels, handles, strict=True))
    fig.legend(named.values(), named.keys(), loc="outside lower center", ncols=len(named),
               fontsize=8)
    fig.suptitle("Training curves of the cross-validation fold models")
    best_text = ", ".join(nums.metric("cv", "best_epochs", i, spec="d") for i in range(len(best)))
    return H.img(figure_uri(fig), "training curves per fold",
                 f"Grey: training loss; orange: the validation fold's score after each epoch. "
                 f"Dotted: the epoch kept by early stopping ({best_text or '–'}).")


def _with_ci(run: Run, nums: H.Numbers, what: str, when: str, key: str) -> str:
    """A recorded ECE or Brier score and its recorded bootstrap interval."""
    bounds = run.record.at("calibration", what, when, f"{key}_ci")
    return (nums.metric("calibration", what, when, key) + " "
            + nums.interval(f"calibration.{what}.{when}.{key}", bounds))


def _shift_figure(shifts: dict[str, CalibrationShift]) -> str:
    """One reliability panel per set of inputs: before (grey) and after (black)."""
    cols = min(3, len(shifts))
    rows = math.ceil(len(shifts) / cols)
    fig = figure(3.2 * cols, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax, (what, shift) in zip(axes, shifts.items(), strict=False):
        ax.plot([0, 1], [0, 1], color=OTHER, ls="--", lw=1)
        for rel, colour in ((shift.before, NEUTRAL), (shift.after, "black")):
            pts = [(c, o) for c, o in zip(rel.confidence, rel.observed, strict=True)
                   if c is not None and o is not None]
            ax.plot(*zip(*pts, strict=True), "o-", color=colour, ms=3)
        ax.set_title(f"{what}\nECE {shift.before.ece:.3f} \u2192 {shift.after.ece:.3f}",
                     fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("probability", fontsize=8)
        ax.set_ylabel("share true", fontsize=8)
    for ax in axes[len(shifts):]:
        ax.set_visible(False)
    return figure_uri(fig)
