"""Property tests for the table and genre parsers (Hypothesis, ~100 examples each)."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from postergenre.data.table import (
    MISSING_CELLS,
    TABLE_SUFFIXES,
    detect_id_column,
    genres_from_columns,
    multi_hot_columns,
    normalise_genre,
    normalise_id,
    parse_genre_cell,
    ranked_genre_columns,
    read_table,
)
from postergenre.data.vocab import merge_case_variants
from postergenre.errors import UserError

FAST = settings(max_examples=100, deadline=None, database=None)
SEPARATORS = "|,;/"

any_name = st.text(st.characters(codec="utf-8"), max_size=15)
# A name that survives a separated cell: no separator inside, something left after normalising.
plain_name = st.text(
    st.characters(codec="utf-8", exclude_characters=SEPARATORS), min_size=1, max_size=15
).filter(normalise_genre)
separator = st.sampled_from(["|", ", ", " | ", ";", "/", ",", " ; "])


def expected(names: list[str]) -> list[str]:
    """What parsing should give: normalised names, empty ones dropped, first of repeats kept."""
    return list(dict.fromkeys(n for n in map(normalise_genre, names) if n))


def is_plain_cell(text: str) -> bool:
    """A cell read by splitting (not as a list literal, not a missing-value word)."""
    text = text.strip()
    return text[:1] not in ("[", "(") and text.lower() not in MISSING_CELLS


@FAST
@given(any_name)
def test_normalise_genre_is_idempotent_and_tidy(name):
    once = normalise_genre(name)
    assert normalise_genre(once) == once
    assert once == once.strip(" '\"") and "  " not in once and once == " ".join(once.split())


@FAST
@given(st.lists(plain_name, max_size=6), separator)
def test_separated_cells_round_trip(names, sep):
    cell = sep.join(names)
    assume(is_plain_cell(cell))
    assert parse_genre_cell(cell) == expected(names)


@FAST
@given(st.lists(any_name, max_size=6), st.sampled_from(["json", "python", "dicts", "array"]))
def test_list_cells_round_trip(names, fmt):
    """JSON and Python list literals (any text inside), key/value dicts, arrays (Parquet)."""
    cell = {
        "json": lambda: json.dumps(names),
        "python": lambda: str(names),
        "dicts": lambda: json.dumps([{"key": n, "value": n} for n in names]),
        "array": lambda: np.array(names, dtype=object),
    }[fmt]()
    assert parse_genre_cell(cell) == expected(names)


@FAST
@given(st.lists(st.lists(plain_name.filter(is_plain_cell), max_size=12), min_size=1, max_size=5))
def test_ranked_columns_round_trip(rows):
    width = max(1, *map(len, rows))
    columns = [f"Genre_{k + 1}" for k in range(width)]
    df = pd.DataFrame([r + [None] * (width - len(r)) for r in rows], columns=columns)
    df = df[columns[::-1]].assign(id=[f"tt{i}" for i in range(len(rows))])  # columns out of order
    found = ranked_genre_columns(df)
    assert found == columns  # Genre_10 after Genre_9, not after Genre_1
    assert genres_from_columns(df, found, multi_hot=False) == [expected(r) for r in rows]


@FAST
@given(
    st.lists(plain_name, min_size=1, max_size=6, unique_by=normalise_genre).filter(
        lambda names: "id" not in names
    ),
    st.data(),
)
def test_multi_hot_columns_round_trip(genres, data):
    flags = data.draw(
        st.lists(st.lists(st.booleans(), min_size=len(genres), max_size=len(genres)), min_size=1)
    )
    as_text = data.draw(st.sampled_from([str, lambda b: str(int(b)), int]))
    df = pd.DataFrame([[as_text(f) for f in row] for row in flags], columns=genres)
    df.insert(0, "id", [f"tt{i}" for i in range(len(flags))])
    assert multi_hot_columns(df, exclude={"id"}) == genres
    got = genres_from_columns(df, genres, multi_hot=True)
    assert got == [expected([g for g, f in zip(genres, row, strict=True) if f]) for row in flags]


@FAST
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), st.lists(any_name)))
@example("[{[]: 1}]")  # an unhashable dict key: literal_eval raises TypeError
@example("[" * 100_000)  # nesting too deep for json and ast
@example("' 'Drama")  # quotes behind whitespace
def test_parse_genre_cell_never_raises_and_gives_clean_names(value):
    names = parse_genre_cell(value)
    assert all(n and normalise_genre(n) == n for n in names)
    assert len(set(names)) == len(names)
    assert parse_genre_cell(names) == names  # parsing its own output changes nothing


ids = st.lists(st.from_regex(r"tt[0-9]{3,8}", fullmatch=True), min_size=1, max_size=20, unique=True)


@FAST
@given(
    ids,
    st.sampled_from(["{}", " {} ", "posters/{}.jpg", "{}.PNG", "C:/x/{}.webp"]),
    st.integers(0, 3),
    st.text(st.characters(categories=["L"]), max_size=8),
)
def test_id_column_is_detected_by_matching_image_names(id_list, form, position, noise):
    df = pd.DataFrame({"title": [noise] * len(id_list), "genres": ["Drama"] * len(id_list)})
    df.insert(min(position, 2), "key", [form.format(i) for i in id_list])
    assert [normalise_id(v) for v in df["key"]] == id_list
    assert detect_id_column(df, Path("t.csv"), None, set(id_list)) == "key"


@FAST
@given(st.lists(st.lists(st.sampled_from(["Drama", "drama", "DRAMA", "Sci-Fi", "sci-fi"]))))
def test_case_merge_keeps_the_most_frequent_spelling_and_is_idempotent(lists):
    merged, merges = merge_case_variants(lists)
    counts = Counter(g for names in lists for g in names)
    for names, out in zip(lists, merged, strict=True):
        assert out == list(dict.fromkeys(out))
        assert {g.casefold() for g in names} == {g.casefold() for g in out}
    for kept, others in merges.items():
        assert all(counts[kept] >= counts[o] for o in others)
    assert len({g.casefold() for names in merged for g in names}) == len(
        {g for names in merged for g in names}
    )
    assert merge_case_variants(merged) == (merged, {})


@FAST
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.lists(st.text(max_size=10), max_size=8).map(lambda r: "\n".join(r).encode()),
    ),
    st.sampled_from(TABLE_SUFFIXES),
)
def test_read_table_raises_only_user_errors(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table{suffix}"
        path.write_bytes(content)
        try:
            df = read_table(path)
        except UserError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e)
        else:
            assert len(df.columns) and len(df)
