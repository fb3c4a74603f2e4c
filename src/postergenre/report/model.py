"""The model section: what it is, every headline metric (CV, test with its bootstrap interval,
the baselines beside), the per-genre table and chart, and the ablation by inputs."""

from __future__ import annotations

import numpy as np

from ..evaluation.metrics import HEADLINE, LABELS
from ..training.record import MeanStd, Stats
from . import html as H
from .figures import figure, figure_uri
from .load import Run

CARDS = ("macro_map", "macro_roc_auc", "macro_f1", "micro_f1")


def overview(run: Run, nums: H.Numbers, ci: dict) -> str:
    """What the model is and how it decides, then the headline cards and table."""
    model, decision = run.record.model, run.record.decision
    inputs = ", ".join(f"<code>{H.esc(i)}</code>" for i in model.inputs)
    rule = (f"a genre is predicted when its probability reaches the genre's own threshold "
            f"(fitted for F1 on the {H.esc(decision.fitted_on)})"
            + (f", at most {nums.metric('decision', 'max_genres', spec='d')} per poster "
               "(the most probable)" if decision.max_genres else "")
            + ("; a poster always gets at least its most likely genre"
               if decision.at_least_one else "") + ".")
    text = (f"<p><b>{H.esc(model.name)}</b>: {H.esc(model.summary)} "
            f"({H.esc(model.settings or '')}). It reads {inputs}. Cross-validation: "
            f"{nums.metric('cv', 'summary', 'n_folds', spec='d')} folds of the training part; "
            f"the final model is the {H.esc(run.record.cv.final)}. Decision rule: "
            f"{rule}</p>")
    return text + _cards(run, nums, ci) + _headline_table(run, nums, ci)


def _cards(run: Run, nums: H.Numbers, ci: dict) -> str:
    base = "prevalence" if "prevalence" in run.record.baselines else None
    cards = []
    for key in CARDS:
        against = (f"no-information baseline {nums.metric('baselines', base, key)}"
                   if base else "")
        cards.append(
            f'<div class="card"><div class="label">test {H.esc(LABELS[key])}</div>'
            f'<div class="big">{nums.metric("test", key)}</div>'
            f'<div class="small">95% CI {nums.interval(f"ci.test.{key}", ci["metrics"][key])}'
            f"<br>CV {_pm(run, nums, key)}<br>{against}</div></div>")
    return f'<div class="cards">{"".join(cards)}</div>'


def _pm(run: Run, nums: H.Numbers, key: str) -> str:
    return _mean_std(nums, ("cv", "summary", "metrics", key),
                    run.record.cv.summary.metrics.get(key))


def _mean_std(nums: H.Numbers, path: tuple[str, ...], stats: Stats | MeanStd | None) -> str:
    """'mean ± std' of the record's ``{"mean", "std"}`` at ``path`` (``stats``, its value
    there, or None: '–')."""
    if stats is None or stats.mean is None:
        return "–"
    std = f" ± {nums.metric(*path, 'std')}" if stats.std is not None else ""
    return f'<span class="num">{nums.metric(*path, "mean")}{std}</span>'


def _headline_table(run: Run, nums: H.Numbers, ci: dict) -> str:
    baselines = run.record.baselines
    n_boot = nums.value("ci.n_boot", ci["n_boot"], "d")
    header = ["metric", "CV mean ± std", "test", "test 95% CI"] + [
        f"baseline: {H.esc(b)}" for b in baselines]
    rows = []
    for key, label, higher in HEADLINE:
        interval = ci["metrics"].get(key)
        rows.append([H.esc(label) + ("" if higher else " (lower is better)"), _pm(run, nums, key),
                     nums.metric("test", key),
                     nums.interval(f"ci.test.{key}", interval) if key in ci["metrics"] else "–"]
                    + [nums.metric("baselines", b, key) for b in baselines])
    notes = [f"Intervals: the 2.5th and 97.5th percentiles over {n_boot} bootstrap resamples of "
             f"the test movies (seed {nums.value('ci.seed', ci['seed'], 'd')})."]
    for b, scores in baselines.items():
        info = scores.baseline
        predicts = ", ".join(info.label_set) or "nothing"
        notes.append(f"<b>{H.esc(b)}</b>: {H.esc(info.rule)}; predicts "
                     f"{H.esc(predicts)} for every poster.")
    return H.table(header, rows) + "".join(H.note(n) for n in notes)


def per_genre(run: Run, nums: H.Numbers, colours: dict[str, str], ci: dict,
              ece: dict[str, float]) -> str:
    """Per-genre table and chart, most frequent genre first."""
    pg = run.record.test.per_genre
    order = sorted(run.genres, key=lambda g: (-pg[g].support, g))
    cv_ap = run.record.cv.summary.per_genre_ap
    rows = []
    for g in order:
        i = run.genres.index(g)
        cv = _mean_std(nums, ("cv", "summary", "per_genre_ap", g), cv_ap.get(g))
        rows.append([H.chip(g, colours)]
                    + [nums.metric("test", "per_genre", g, k, spec=s)
                       for k, s in (("support", "d"), ("prevalence", ".3f"), ("ap", ".3f"))]
                    + [nums.interval(f"ci.per_genre.{g}.ap", ci["per_genre"][g]["ap"]),
                       nums.metric("test", "per_genre", g, "roc_auc"),
                       nums.metric("decision", "thresholds", i)]
                    + [nums.metric("test", "per_genre", g, k, spec=s)
                       for k, s in (("f1", ".3f"), ("precision", ".3f"), ("recall", ".3f"),
                                    ("predicted", "d"))]
                    + [cv, nums.value(f"ece.{g}", ece[g])])
    header = ["genre", "test posters", "prevalence", "AP", "AP 95% CI",
              "ROC AUC", "threshold", "F1", "precision", "recall", "predicted", "CV AP",
              "ECE"]
    return (H.img(figure_uri(_chart(run, order, colours, ci)), "per-genre metrics chart",
                  "Left: AP with its 95% interval; the black tick is the genre's prevalence, "
                  "what a model without information scores. Right: F1, precision and recall at "
                  "the chosen thresholds.")
            + H.table(header, rows)
            + H.note("Prevalence: the genre's share of the test posters, which is the AP of any "
                     "score that ignores the poster. "
                     "F1, precision, recall and the predicted count are at the decision rule "
                     "(thresholds, cap, at least one genre). ECE: expected calibration error of "
                     "the genre's probabilities (10 bins)."))


def _chart(run: Run, order: list[str], colours: dict[str, str], ci: dict):
    pg = run.record.test.per_genre
    fig = figure(11, 1.3 + 0.3 * len(order))
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(order))
    col = [colours[g] for g in order]
    ap = np.array([np.nan if pg[g].ap is None else pg[g].ap for g in order])
    bounds = np.array([ci["per_genre"][g]["ap"] or [np.nan, np.nan] for g in order])
    err = np.abs(np.vstack([ap - bounds[:, 0], bounds[:, 1] - ap]))
    left.barh(y, ap, color=col, xerr=np.nan_to_num(err), ecolor="#333", capsize=2)
    left.scatter([pg[g].prevalence for g in order], y, marker="|", s=160, color="black",
                 label="prevalence (no information)", zorder=3, clip_on=False)
    left.set_yticks(y, [f"{g} (n={pg[g].support})" for g in order])
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.set_xlabel("average precision (test)")
    left.set_title("AP per genre with 95% interval")

    right.barh(y, [pg[g].f1 for g in order], color=col, alpha=0.85, label="F1")
    right.scatter([pg[g].precision for g in order], y, marker="^", color="black", s=18,
                  label="precision", zorder=3, clip_on=False)
    right.scatter([pg[g].recall for g in order], y, marker="o", facecolor="white",
                  edgecolor="black", s=18, label="recall", zorder=3)
    right.set_xlim(0, 1)
    right.set_xlabel("score at the chosen threshold (test)")
    right.set_title("F1, precision, recall per genre")
    fig.legend(loc="outside lower center", ncols=4, fontsize=8)
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    return fig


def ablation(run: Run, nums: H.Numbers) -> str:
    """The ablation by inputs the run recorded (``metrics.json`` ``ablation``: {inputs used:
    {"all" | "with plot" | "without plot": metrics}}, beside ``ablation_cv``: {inputs used:
    {metric: mean and std over the CV rounds}}), or why there is none."""
    inputs = run.record.model.inputs
    recorded = run.record.ablation
    if len(inputs) < 2:
        return H.note(f"The model reads one input ({H.esc(', '.join(inputs))}): nothing to "
                      "leave out, so no ablation.")
    if not recorded:
        return H.note(f"The model reads {len(inputs)} inputs ({H.esc(', '.join(inputs))}) and "
                      "none of them is optional, so no ablation (every test movie needs all).")
    cv = run.record.ablation_cv or {}
    keys = ["macro_map", "macro_f1", "micro_f1"]
    parts = ["all", "with plot", "without plot"]
    header = ["inputs given"] + [f"{H.esc(LABELS[k])}<br>{what}" for k in keys
                                 for what in ("CV mean ± std", *(f"test, {p}" for p in parts))]
    rows = []
    for what, result in recorded.items():
        row = [H.esc(what)]
        for k in keys:
            row.append(_mean_std(nums, ("ablation_cv", what, k), cv.get(what, {}).get(k)))
            row += [nums.metric("ablation", what, part, k) if part in result else "–"
                    for part in parts]
        rows.append(row)
    return H.table(header, rows) + H.note(
        "CV: each cross-validation round's model on its own held-out fold, with the same inputs "
        "withheld, answered by calibrations and rules fitted on the other rounds' folds; mean ± "
        "standard deviation over the rounds. Test: the final model on the test "
        "part, on all its movies, those with a plot and those without.")
