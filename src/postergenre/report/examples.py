"""Examples: for each genre, the test posters that follow the model's decisions (the run's
``predictions_test.csv``: thresholds, cap and at-least-one rule): decided and right (most
probable first), decided and wrong (most probable first) and missed (has the genre, not
decided; least probable first), with their true and decided genres."""

from __future__ import annotations

import numpy as np

from . import html as H
from .figures import thumbnail_uri
from .load import Run

PER_KIND = 4
KINDS = (("Decided and right", "right"), ("Decided and wrong", "wrong"),
         ("Missed", "missed"))  # (heading, CSS class)


def examples_section(run: Run, nums: H.Numbers, colours: dict[str, str]) -> str:
    posters, titles = run.posters(), run.titles()
    pg = run.record.test.per_genre
    order = sorted(run.genres, key=lambda g: (-pg[g].support, g))
    blocks = []
    for g in order:
        j = run.genres.index(g)
        kinds = _kinds(run.y[:, j].astype(bool), run.pred[:, j], run.prob[:, j])
        columns = "".join(
            f'<div><h4 class="{css}">{label}</h4>'
            f"{_cards(run, nums, rows, j, (posters, titles), colours)}</div>"
            for (label, css), rows in zip(KINDS, kinds, strict=True))
        blocks.append(f"<h3>{H.chip(g, colours)} <span class=\"note\">threshold "
                      f"{nums.metric('decision', 'thresholds', j)}</span></h3>"
                      f'<div class="examples">{columns}</div>')
    missing = "" if posters else H.note("The dataset could not be read, so no posters show.")
    return (H.note("p is the model's probability of the genre; \"decided\" is the run's "
                   "decision (the genre's threshold, at most so many genres per poster, at "
                   "least one). Right: decided, and the poster has the genre. Wrong: decided, "
                   "and it has not. Missed: it has the genre, not decided.")
            + missing + "".join(blocks))


def _kinds(true: np.ndarray, decided: np.ndarray, prob: np.ndarray) -> list[list[int]]:
    """Row indices of the decided-and-right and decided-and-wrong posters (most probable
    first) and the missed ones (least probable first), ``PER_KIND`` of each."""
    ranked = np.argsort(-prob, kind="stable")
    right = [i for i in ranked if decided[i] and true[i]]
    wrong = [i for i in ranked if decided[i] and not true[i]]
    missed = [i for i in ranked[::-1] if true[i] and not decided[i]]
    return [kind[:PER_KIND] for kind in (right, wrong, missed)]


def _cards(run: Run, nums: H.Numbers, rows: list[int], j: int, movies: tuple[dict, dict],
           colours: dict[str, str]) -> str:
    posters, titles = movies
    if not rows:
        return H.note("none in the test part")
    out = []
    for i in rows:
        movie = run.ids[i]
        uri = thumbnail_uri(posters[movie]) if movie in posters else None
        pic = f'<img src="{uri}" alt="{H.esc(movie)}">' if uri else ""
        true = ", ".join(H.chip(run.genres[k], colours) for k in np.flatnonzero(run.y[i]))
        pred = ", ".join(H.chip(run.genres[k], colours) for k in np.flatnonzero(run.pred[i]))
        p = nums.value(f"prob.{movie}.{run.genres[j]}", float(run.prob[i, j]), ".2f")
        title = H.esc(titles.get(movie, ""))
        out.append(f'<div class="ex" data-id="{H.esc(movie)}">{pic}<div>'
                   f'<span class="p">p = {p}</span>'
                   f"<br>{H.esc(movie)} {title}<br>true: {true or '–'}<br>"
                   f"decided: {pred or '–'}"
                   "</div></div>")
    return f'<div class="thumbs">{"".join(out)}</div>'
