"""The form fields a request may send beside its posters: one per registered metadata field.

Each registered field a dataset can hold (``features.specs``: title, year, plot, ...) becomes
an optional form field of ``/v1/predict`` and ``/v1/explain``: text up to the text limit, a
number within the range its field declares. The fields are read by one dependency, so the
routes and the OpenAPI schema follow the registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form

from ..features.specs import FIELDS, Field


def form_fields() -> list[Field]:
    """The fields a request may send as form values (those a dataset table can hold)."""
    return [f for f in FIELDS.values() if f.columns and not f.required]


def details_dependency(max_text: int) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency giving ``{field: value or None}`` for every form field."""

    def details(**values: Any) -> dict[str, Any]:
        return values

    params = []
    for f in form_fields():
        if f.type == "number":
            low, high = f.preprocessing.get("range", (None, None))
            form = Form(ge=low, le=high, description=f.help)
            kind: Any = float | None
        else:
            form = Form(max_length=max_text, description=f.help)
            kind = str | None
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[kind, form]))
    details.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return details
