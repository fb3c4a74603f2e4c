"""The form fields a request may send beside its posters: one per registered metadata field.

Each registered field a dataset can hold (``features.specs``: title, year, plot, ...) becomes
an optional form field of ``/v1/predict`` and ``/v1/explain``: text up to the text limit, a
number within the range its field declares. The fields are read by one dependency, so the
routes, the OpenAPI schema (an absent field is left out, never null) and ``/v1/model``'s
``fields`` follow the registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form
from pydantic import WithJsonSchema

from ..features.specs import FIELDS, Field


def form_fields() -> list[Field]:
    """The fields a request may send as form values (those a dataset table can hold)."""
    return [f for f in FIELDS.values() if f.columns and not f.required]


def _schema(f: Field, max_text: int) -> dict[str, Any]:
    """The JSON schema of one form field's value."""
    if f.type == "number":
        low, high = f.preprocessing.get("range", (None, None))
        bounds = {"minimum": low, "maximum": high}
        return {"type": "number", **{k: v for k, v in bounds.items() if v is not None}}
    return {"type": "string", "maxLength": max_text}


def details_dependency(max_text: int) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency giving ``{field: value or None}`` for every form field."""

    def details(**values: Any) -> dict[str, Any]:
        return values

    params = []
    for f in form_fields():
        schema = _schema(f, max_text)
        kind: Any = float | None if f.type == "number" else str | None
        form = Form(ge=schema.get("minimum"), le=schema.get("maximum"),
                    max_length=schema.get("maxLength"), description=f.help)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[kind, form,
                                                             WithJsonSchema(schema)]))
    details.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return details


def describe(max_text: int) -> list[dict[str, Any]]:
    """The form fields as ``/v1/model`` states them: name, type, help and what a value may
    be (a number's range, a text's length), as the dependency checks them."""
    out = []
    for f in form_fields():
        schema = _schema(f, max_text)
        out.append({"name": f.name, "type": f.type, "help": f.help,
                    "minimum": schema.get("minimum"), "maximum": schema.get("maximum"),
                    "max_length": schema.get("maxLength")})
    return out
