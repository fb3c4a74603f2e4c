"""The data section: how many movies of each genre, which genres come together, the years,
which inputs exist for how many movies, and a few posters of each genre."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from ..data.splits import TEST
from ..features.specs import optional_fields
from . import html as H
from .figures import NEUTRAL, OTHER, figure, figure_uri, heatmap, thumbnail_uri
from .load import Run

THUMBS_PER_GENRE = 7


def data_section(run: Run, frame: pd.DataFrame | None, nums: H.Numbers,
                 colours: dict[str, str]) -> str:
    """The section; ``frame`` is ``labelled(run)``."""
    data = run.record.data
    parts = [
        f"<p>The run used {nums.metric('data', 'labelled_in_split', spec='d')} labelled movies "
        f"of its split: {nums.metric('data', 'n_train', spec='d')} for training and "
        f"cross-validation, {nums.metric('data', 'n_test', spec='d')} held out as the test "
        f"part. It predicts {nums.metric('test', 'n_genres', spec='d')} genres"
        + (f"; {_dropped(data.dropped_genres)} had too few training examples and are left "
           "out" if data.dropped_genres else "") + ".</p>"]
    skipped = data.skipped_files
    if skipped:
        parts.append(H.note(f"{nums.value('data.skipped_files', len(skipped), 'd')} files "
                            "could not be used (unreadable or missing an input)."))
    parts += [H.note(H.esc(n)) for n in data.notes[:5]]
    parts.append("<h3>Genres</h3>" + _genre_counts(run, frame, nums, colours))
    labels = (frame["genres"] if frame is not None else
              pd.Series([[g for g, t in zip(run.genres, row, strict=True) if t] for row in run.y]))
    parts.append("<h3>Which genres come together</h3>" + _cooccurrence(labels, run.genres))
    if frame is None:
        return "".join(parts)
    parts.append("<h3>Posters per year</h3>" + _years(frame, nums))
    parts.append("<h3>Inputs</h3>" + _inputs(run, frame, nums))
    parts.append("<h3>A few posters of each genre</h3>" + _thumbs(frame, run.genres, colours))
    return "".join(parts)


def labelled(run: Run) -> pd.DataFrame | None:
    """The labelled movies of the run's split (all labelled ones without a split), with a
    ``part`` column; None without the dataset."""
    if run.dataset is None:
        return None
    frame = run.dataset.labelled.copy()
    if run.parts is not None:
        frame = frame[frame["id"].isin(run.parts.keys())]
        frame["part"] = frame["id"].map(run.parts)
    else:
        frame["part"] = None
    return frame.reset_index(drop=True)


def train_counts(frame: pd.DataFrame | None) -> dict[str, int]:
    """Movies per genre outside the test part ({} without the dataset or its split)."""
    counts: dict[str, int] = {}
    if frame is not None and frame["part"].notna().any():
        for genres in frame.loc[frame["part"] != TEST, "genres"]:
            for g in genres:
                counts[g] = counts.get(g, 0) + 1
    return counts


def _dropped(dropped: dict[str, int]) -> str:
    names = list(dropped)  # {genre: training examples}
    shown = ", ".join(H.esc(g) for g in names[:8])
    return shown + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _genre_counts(run: Run, frame: pd.DataFrame | None, nums: H.Numbers,
                  colours: dict[str, str]) -> str:
    """Training and test counts per genre, chart and table; dropped genres in grey."""
    test = {g: run.record.test.per_genre[g].support for g in run.genres}
    train = train_counts(frame)
    if frame is not None:
        in_train = frame["part"] != TEST
        for g in run.record.data.dropped_genres:
            test.setdefault(g, sum(g in gs for gs in frame.loc[~in_train, "genres"]))
    names = sorted(test, key=lambda g: (-(train.get(g, 0) + test[g]), g))
    fig = figure(9, 1.2 + 0.27 * len(names))
    ax = fig.add_subplot()
    y = np.arange(len(names))
    col = [colours.get(g, OTHER) for g in names]
    tr = np.array([train.get(g, 0) for g in names])
    ax.barh(y, tr, color=col, label="training part")
    ax.barh(y, [test[g] for g in names], left=tr, color=col, alpha=0.45, hatch="///",
            edgecolor="white", label="test part")
    ax.set_yticks(y, [g if g in colours else f"{g} (dropped)" for g in names])
    ax.invert_yaxis()
    ax.set_xlabel("movies")
    ax.set_title("Movies per genre (a movie counts once for each of its genres)")
    ax.legend([Patch(color=NEUTRAL), Patch(facecolor=NEUTRAL, alpha=0.45, hatch="///",
                                           edgecolor="white")],
              ["training part", "test part"], loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="x", alpha=0.3)
    rows = []
    for g in names:
        kept = g in colours
        test_cell = (nums.metric("test", "per_genre", g, "support", spec="d") if kept
                     else nums.value(f"data.test_count.{g}", test[g], "d"))
        train_cell = nums.value(f"data.train_count.{g}", train[g], "d") if g in train else "–"
        rows.append([H.chip(g, colours), train_cell, test_cell, "yes" if kept else "dropped"])
    caption = "Training counts come from the dataset and the run's split" if train else (
        "Test counts only: the dataset or the run's split could not be read")
    return (H.img(figure_uri(fig), "movies per genre", caption)
            + H.table(["genre", "training part", "test part", "in the model"], rows))


def _cooccurrence(labels: pd.Series, genres: list[str]) -> str:
    index = {g: j for j, g in enumerate(genres)}
    hot = np.zeros((len(labels), len(genres)))
    for i, gs in enumerate(labels):
        for g in gs:
            if g in index:
                hot[i, index[g]] = 1
    both = hot.T @ hot
    share = both / np.maximum(np.diag(both)[:, None], 1)
    np.fill_diagonal(share, np.nan)
    fig = heatmap(share, genres, genres, "Blues", (
        "…also has this genre", "Of the movies with this genre…",
        "Genre co-occurrence (% of the row genre's movies)"))
    return H.img(figure_uri(fig), "genre co-occurrence heatmap",
                 "Read across a row: of the movies with that genre, the share that also has the "
                 "column genre. The diagonal is left blank.")


def _years(frame: pd.DataFrame, nums: H.Numbers) -> str:
    years = frame["year"].dropna().astype(int)
    unknown = nums.value("data.year_unknown", int(frame["year"].isna().sum()), "d")
    if years.empty:
        return H.note(f"No year is known for any movie ({unknown} movies).")
    counts = years.value_counts().sort_index()
    fig = figure(9, 3.2)
    ax = fig.add_subplot()
    ax.bar(counts.index, counts.values, width=1.0, color=NEUTRAL)
    ax.set_xlabel("year")
    ax.set_ylabel("movies")
    ax.set_title("Movies per release year")
    ax.grid(axis="y", alpha=0.3)
    return H.img(figure_uri(fig), "movies per year",
                 f"{nums.value('data.year_known', len(years), 'd')} movies with a known year, "
                 f"{nums.value('data.year_first', int(years.min()), '.0f')}–"
                 f"{nums.value('data.year_last', int(years.max()), '.0f')}; {unknown} without.")


def _inputs(run: Run, frame: pd.DataFrame, nums: H.Numbers) -> str:
    reads = {name.split(":")[0] for name in run.record.model.inputs}
    n = len(frame)
    rows = []
    for f in ["poster", *(f for f in optional_fields() if f in frame)]:
        column = frame["path" if f == "poster" else f]
        have = int(column.notna().sum()) if column.dtype.kind in "iuf" or f == "poster" \
            else int(column.fillna("").astype(str).str.strip().ne("").sum())
        bar = f'<span class="bar" style="width:{120 * have / max(n, 1):.0f}px"></span>'
        rows.append([f, nums.value(f"data.inputs.{f}", have, "d"),
                     nums.value(f"data.inputs.{f}_share", have / max(n, 1), "%") + bar,
                     "yes" if f in reads else "no"])
    return H.table(["input", "movies with it", f"share of {n:,}", "read by this model"], rows)


def _thumbs(frame: pd.DataFrame, genres: list[str], colours: dict[str, str]) -> str:
    rng = np.random.default_rng(0)
    pool = frame[frame["part"] != TEST] if frame["part"].notna().any() else frame
    rows = []
    for g in genres:
        having = pool[pool["genres"].map(lambda gs, g=g: g in gs)]
        pick = having.iloc[rng.permutation(len(having))[:THUMBS_PER_GENRE]]
        imgs = []
        for r in pick.itertuples():
            uri = thumbnail_uri(r.path)
            if uri:
                name = r.title if isinstance(r.title, str) else ""
                title = f"{r.id} {name} ({', '.join(r.genres)})"
                imgs.append(f'<img src="{uri}" alt="{H.esc(r.id)}" title="{H.esc(title)}">')
        rows.append(f'<div>{H.chip(g, colours)}<div class="thumbs">{"".join(imgs) or "–"}</div>'
                    "</div>")
    return (H.note("Random training posters of each genre (hover for title and genres).")
            + f'<div class="genre-grid">{"".join(rows)}</div>')
