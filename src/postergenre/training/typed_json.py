"""Frozen dataclasses read from and written to JSON by their type hints, validated whole.

A ``Typed`` subclass is a frozen dataclass whose fields are ``int``, ``float``, ``str``,
``bool``, ``Any``, ``X | None``, ``list[X]``, ``dict[str, X]`` or another ``Typed``.
``from_json`` checks a whole document against them first: an unknown or missing key, a
string, NaN or infinity where a number belongs, or a list where an object belongs is a
``UserError`` naming the source and the key (``m.json: test.macro_map must be a finite
number, not 'inf'``); ``read`` does the same for a JSON file (a missing or unparsable one is
a ``UserError`` naming it). ``to_json`` writes the same layout back, leaving out a field that
has a default and holds it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from ..errors import UserError


class Invalid(Exception):
    """A value that is not what the record says: ``key`` and what is wrong with it."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key or 'the document'} {problem}")


class Typed:
    """A frozen dataclass read from and written to JSON by its type hints."""

    if TYPE_CHECKING:  # every subclass is a dataclass
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def from_json(cls, doc: Any, source: str | Path = "") -> Self:
        """The record in ``doc``, validated whole; ``UserError`` naming ``source`` and the
        first bad key."""
        try:
            record = _parse(cls, doc, "")
            record.check()
        except Invalid as e:
            raise UserError(f"{source}: {e}" if source else str(e)) from None
        return record

    @classmethod
    def read(cls, path: Path) -> Self:
        """The record in the JSON file ``path``, validated whole (``UserError`` naming it)."""
        if not path.is_file():
            raise UserError(f"{path}: missing")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            raise UserError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
        return cls.from_json(doc, path)

    def to_json(self) -> dict:
        return _dump(self)

    def check(self) -> None:
        """Rules across fields (``Invalid``); the types are checked before."""

    def at(self, *path: str | int) -> Any:
        """The value at a JSON path (``"test", "per_genre", "Drama", "ap"``) of the record."""
        value: Any = self
        for key in path:
            if isinstance(value, Typed) and isinstance(key, str):
                value = getattr(value, key)
            else:
                value = value[key]
        return value


def _parse(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if isinstance(value, np.generic):  # a record made in memory may hold numpy scalars
        value = value.item()
    if isinstance(tp, type) and issubclass(tp, Typed):
        return _parse_record(tp, value, key)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _parse(inner, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise Invalid(key, f"must be a list, not {_shown(value)}")
        return [_parse(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise Invalid(key, f"must be an object, not {_shown(value)}")
        return {k: _parse(args[1], v, _join(key, k)) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise Invalid(key, f"must be a finite number, not {_shown(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(key, f"must be a whole number, not {_shown(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise Invalid(key, f"must be a string, not {_shown(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise Invalid(key, f"must be true or false, not {_shown(value)}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"the run record has no reader for {tp!r}")


def _parse_record(cls: type[Typed], value: Any, key: str) -> Typed:
    if not isinstance(value, dict):
        raise Invalid(key, f"must be an object, not {_shown(value)}")
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    unknown = [k for k in value if k not in hints]
    if unknown:
        raise Invalid(_join(key, unknown[0]), "is an unknown key")
    got = {}
    for f in fields:
        if f.name in value:
            got[f.name] = _parse(hints[f.name], value[f.name], _join(key, f.name))
        elif f.default is dataclasses.MISSING:
            raise Invalid(_join(key, f.name), "is missing")
    return cls(**got)


def _dump(value: Any) -> Any:
    if isinstance(value, Typed):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else str(name)


def _shown(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
