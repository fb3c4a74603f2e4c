"""Examples: for each genre, the test posters the model was most sure of and right (the
genre's most probable true positives) and most sure of and wrong (the most probable posters
that do not have the genre), with their true and predicted genres."""

from __future__ import annotations

import numpy as np

from . import html as H
from .figures import thumbnail_uri
from .load import Run

PER_KIND = 4


def examples_section(run: Run, nums: H.Numbers, colours: dict[str, str]) -> str:
    posters, titles = run.posters(), run.titles()
    pg = run.record.test.per_genre
    order = sorted(run.genres, key=lambda g: (-pg[g].support, g))
    blocks = []
    for g in order:
        j = run.genres.index(g)
        ranked = np.argsort(-run.prob[:, j], kind="stable")
        right = [i for i in ranked if run.y[i, j]][:PER_KIND]
        wrong = [i for i in ranked if not run.y[i, j]][:PER_KIND]
        blocks.append(
            f"<h3>{H.chip(g, colours)}</h3><div class=\"examples\">"
            f'<div><div class="right">Most sure and right</div>'
            f"{_cards(run, nums, right, j, (posters, titles), colours)}</div>"
            f'<div><div class="wrong">Most sure and wrong</div>'
            f"{_cards(run, nums, wrong, j, (posters, titles), colours)}</div></div>")
    missing = "" if posters else H.note("The dataset could not be read, so no posters show.")
    return (H.note("p is the model's probability of the genre. \"Wrong\" posters do not have "
                   "the genre; when p is over the genre's threshold, it was predicted.")
            + missing + "".join(blocks))


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
        out.append(f'<div class="ex">{pic}<div><span class="p">p = {p}</span>'
                   f"<br>{H.esc(movie)} {title}<br>true: {true or '–'}<br>"
                   f"predicted: {pred or '–'}"
                   "</div></div>")
    return f'<div class="thumbs">{"".join(out)}</div>'
