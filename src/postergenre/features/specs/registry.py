"""The registry of record fields, and of the model input each is read as by default.

An input module declares its ``Field`` and registers it with ``register`` (the poster, title,
year, plot and poster text register themselves; ``features.specs`` imports them). A field
with dataset columns is registered with the data layer too, so datasets read its column.
"""

from __future__ import annotations

from collections.abc import Callable

from ...data import fields as dataset_fields
from .base import Field, InputSpec

FIELDS: dict[str, Field] = {}
DEFAULTS: dict[str, Callable[[], InputSpec]] = {}  # field -> the input models read by default


def register(field: Field, default: Callable[[], InputSpec] | None = None) -> Field:
    """Make ``field`` known to bundles, predictions, datasets (its columns) and models
    (``default``: the input a model that names the field reads)."""
    FIELDS[field.name] = field
    if default is not None:
        DEFAULTS[field.name] = default
    if field.columns:
        dataset_fields.register(field.name, field.columns, numeric=field.type == "number")
    return field


def get_field(name: str) -> Field:
    if name not in FIELDS:
        raise ValueError(f"no input {name!r}; inputs: {', '.join(FIELDS)}")
    return FIELDS[name]


def default_input(name: str) -> InputSpec:
    """The input a model reads from field ``name`` (not the poster: its input is a backbone
    the model chooses)."""
    get_field(name)
    if name not in DEFAULTS:
        raise ValueError(f"a model chooses how it reads {name!r}")
    return DEFAULTS[name]()


def optional_fields() -> list[str]:
    """The fields a record may leave out, in registration order."""
    return [name for name, f in FIELDS.items() if not f.required]
