"""The metadata fields a dataset reads beside its posters, by name, with the column names each
is recognised by. The inputs that read them (``features.specs``) register them here, so a
dataset table's columns are found for every registered input and for no other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetadataField:
    name: str
    columns: tuple[str, ...]  # candidate column names, lower case, first match wins
    numeric: bool = False  # read as an integer column (a year)


METADATA: dict[str, MetadataField] = {}


def register(name: str, columns: tuple[str, ...], numeric: bool = False) -> None:
    """Make datasets read field ``name`` from the first of ``columns`` a table has."""
    METADATA[name] = MetadataField(name, tuple(c.lower() for c in columns), numeric)
