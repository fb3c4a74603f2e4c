"""The label vocabulary: which genres a model learns, and the multi-hot label matrix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Vocabulary:
    genres: list[str]  # kept, most frequent first
    counts: dict[str, int]  # support of every genre seen
    dropped: dict[str, int]  # genres below min_support, with their support
    min_support: int

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Vocabulary:
        return cls(list(d["genres"]), dict(d["counts"]), dict(d["dropped"]), int(d["min_support"]))


def merge_case_variants(
    genre_lists: Iterable[list[str]],
) -> tuple[list[list[str]], dict[str, list[str]]]:
    """Genre names that differ only in case become one: the spelling used by most rows (ties:
    the one seen first).

    Returns the lists with merged names (order kept, de-duplicated) and, for each name that
    absorbed others, the spellings it absorbed in the order seen.
    """
    lists = list(genre_lists)
    counts = Counter(g for names in lists for g in names)  # keys in first-seen order
    spellings: dict[str, list[str]] = {}
    for name in counts:
        spellings.setdefault(name.casefold(), []).append(name)
    canonical, merges = {}, {}
    for group in spellings.values():
        kept = max(group, key=counts.__getitem__)  # max keeps the first of equal counts
        canonical.update(dict.fromkeys(group, kept))
        if len(group) > 1:
            merges[kept] = [g for g in group if g != kept]
    return [list(dict.fromkeys(canonical[g] for g in names)) for names in lists], merges


def build_vocabulary(genre_lists: Iterable[list[str]], min_support: int = 50) -> Vocabulary:
    counts = Counter(g for genres in genre_lists for g in genres)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = [g for g, n in ordered if n >= min_support]
    dropped = {g: n for g, n in ordered if n < min_support}
    return Vocabulary(kept, dict(ordered), dropped, min_support)


def multi_hot(genre_lists: Iterable[list[str]], genres: list[str]) -> np.ndarray:
    """(n, len(genres)) uint8 matrix; genres outside the list are ignored."""
    index = {g: j for j, g in enumerate(genres)}
    lists = list(genre_lists)
    y = np.zeros((len(lists), len(genres)), dtype=np.uint8)
    for i, names in enumerate(lists):
        for g in names:
            if g in index:
                y[i, index[g]] = 1
    return y
