"""The OpenAPI document states what the server requires: schemathesis runs its checks against
the app in-process (requests that follow the schema are answered 200, those that break it
are refused with a documented 4xx, never a 5xx), and the document says it.

One check is left out of the negative run: ``negative_data_rejection`` counts a multipart text
field "made null" or "made a number" as invalid, but on the wire it is the text ``null`` or
``12``, a valid title; every other check runs in both modes."""

from __future__ import annotations

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection
from schemathesis.specs.openapi.formats import unregister_string_format

from postergenre.features.year import FIRST, LAST

from .bundles import poster
from .serving import png
from .test_serve import make_app, served  # noqa: F401 - the module's bundle fixture


@pytest.fixture
def posters_for_binary():
    """A client generated from the document sends posters where it says ``binary``: small real
    images of a few colours and sizes (what a file is, beyond bytes, no schema can say)."""
    images = st.builds(lambda c, w, h: png(poster(c, size=(w, h))),
                       st.sampled_from([(220, 20, 20), (20, 200, 20), (20, 20, 220)]),
                       st.integers(8, 60), st.integers(8, 90))
    schemathesis.openapi.format("binary", images)
    yield
    unregister_string_format("binary")


def test_the_document_states_files_and_ranges(served):  # noqa: F811
    doc = make_app(served).openapi()
    bodies = doc["components"]["schemas"]
    files = bodies["Body_predict_v1_predict_post"]["properties"]["files"]
    assert (files["minItems"], files["maxItems"]) == (1, 4)  # the tests' max_files
    assert files["items"]["minLength"] == 1 and files["items"]["format"] == "binary"
    similar = bodies["Body_similar_v1_similar_post"]["properties"]["file"]
    assert similar["minLength"] == 1 and similar["format"] == "binary"
    year = bodies["Body_predict_v1_predict_post"]["properties"]["year"]
    assert year["type"] == "number" and "anyOf" not in year  # left out when absent, never null
    assert (year["minimum"], year["maximum"]) == (FIRST, LAST)  # the year field's own range
    explain = bodies["Body_explain__v1_explain_post"]["properties"]
    assert explain["rows"]["maximum"] * explain["cols"]["maximum"] <= 192
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "image/png" in body["encoding"]["files"]["contentType"]
    assert {"400", "408", "413", "415", "422", "503"} <= set(
        doc["paths"]["/v1/predict"]["post"]["responses"])


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_schemathesis_check_passes(served, posters_for_binary, mode):  # noqa: F811
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(served))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/predict", "POST /v1/explain",
                                               "POST /v1/similar", "GET /v1/model"}
    answered: list[int] = []
    excluded = [negative_data_rejection] if mode == "negative" else []
    for operation in operations:
        if mode == "negative" and operation.method.upper() == "GET":
            continue  # nothing to break: no parameters, or one free string

        @given(case=operation.as_strategy(schemathesis.GenerationMode(mode)))
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def every_check(case):
            response = case.call()
            case.validate_response(response, excluded_checks=excluded)
            answered.append(response.status_code)

        every_check()
    statuses = np.array(answered)
    if mode == "positive":  # posters that follow the schema are answered
        assert (statuses == 200).sum() >= 30, answered
    else:  # never a 5xx (a check above); mostly refused
        assert ((statuses >= 400) & (statuses < 500)).mean() > 0.5, answered
