"""Bundle format 3: a real (toy) bundle round-trips, and every refusal of ``load_bundle`` is a
one-line ``UserError`` naming the file and field, decided before any file is read."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import shutil
from pathlib import Path, PurePosixPath

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from postergenre.bundle import io as bundle_io
from postergenre.bundle import load_bundle
from postergenre.bundle.format import DocumentError, check_document, safe_relative
from postergenre.bundle.io import GENRES_KEY
from postergenre.errors import UserError
from postergenre.evaluation.rules import DecisionRules
from postergenre.evaluation.thresholds import DecisionRule
from postergenre.features.specs import Pixels
from postergenre.features.specs.poster import POSTER

from .bundles import GENRES, PIXELS_HW, build_bundle, declaration, poster, read_doc, write_doc

RULE = DecisionRule(np.array([0.3, 0.5, 0.7], np.float32), 2, False)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle") / "model", RULE)


@pytest.fixture
def bundle(built, tmp_path) -> Path:
    """A private copy of the built bundle, free to damage."""
    return Path(shutil.copytree(built, tmp_path / "model"))


def refused(path: Path, *needles: str) -> str:
    """``load_bundle(path)`` raises a one-line ``UserError`` containing every needle."""
    with pytest.raises(UserError) as info:
        load_bundle(path)
    msg = str(info.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    return msg


def edit(bundle: Path, change) -> None:
    doc = read_doc(bundle)
    change(doc)
    write_doc(bundle, doc)


@pytest.fixture
def no_file_read(monkeypatch):
    """Fail the test if loading goes as far as hashing or opening any bundle file."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"a file was read before the document was refused: {args}")

    monkeypatch.setattr(bundle_io, "_sha256", forbidden)
    monkeypatch.setattr(bundle_io, "open_session", forbidden)


# --- the round trip ----------------------------------------------------------------------


def test_round_trip_keeps_genres_rule_and_inputs(built):
    b = load_bundle(built)
    assert b.genres == GENRES
    assert b.rule.thresholds.tolist() == pytest.approx([0.3, 0.5, 0.7])
    assert b.rule.max_genres == 2 and b.rule.at_least_one is False
    assert b.thresholds.tolist() == b.rule.thresholds.tolist()
    assert b.inputs == [declaration([Pixels(PIXELS_HW)])]
    doc = read_doc(built)
    assert doc["format"] == 3 and doc["kind"] == "postergenre-bundle"
    assert doc["model"] == {"name": "mean-colour toy"}
    assert set(doc["files"]) == {"model.onnx"}
    assert sorted(p.name for p in built.iterdir()) == ["bundle.json", "model.onnx"]
    assert not list(built.parent.glob("*.onnx")), "the graph file is moved, not left behind"


def test_round_trip_runs_the_graph(built):
    b = load_bundle(built)
    rows = [POSTER.prepare(poster(c)) for c in ((220, 20, 20), (20, 220, 20), (20, 20, 220))]
    probs = b.run({"poster": POSTER.batch(rows)})
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    assert probs.argmax(axis=1).tolist() == [0, 1, 2]
    assert ((probs > 0) & (probs < 1)).all()


def test_bundle_reached_through_a_linked_folder_loads(built, tmp_path):
    link = tmp_path / "linked"
    link.symlink_to(built, target_is_directory=True)
    assert load_bundle(link).genres == GENRES


# --- refusals of the document ------------------------------------------------------------


def test_format_1_is_refused_with_a_retrain_hint(bundle):
    edit(bundle, lambda d: d.update(format=1))
    msg = refused(bundle, str(bundle / "bundle.json"), "format 1", "retrain")
    assert "postergenre train" in msg


@pytest.mark.parametrize("fmt", [4, 2, 0, "3", 2.5, None])
def test_unknown_format_is_refused(bundle, fmt):
    edit(bundle, lambda d: d.update(format=fmt))
    refused(bundle, str(bundle / "bundle.json"), f"format {fmt!r}")


@pytest.mark.parametrize("kind", ["something-else", None, ["postergenre-bundle"]])
def test_wrong_kind_is_refused(bundle, kind):
    edit(bundle, lambda d: d.update(kind=kind))
    refused(bundle, str(bundle / "bundle.json"), "not a postergenre model bundle")


def test_document_that_is_not_an_object_is_refused(bundle):
    (bundle / "bundle.json").write_text("[1, 2, 3]")
    refused(bundle, "not a postergenre model bundle")


def test_canvas_size_mismatch_is_refused(bundle, no_file_read):
    def change(d):
        d["inputs"][0]["preprocessing"]["canvas_hw"] = [224, 224]

    edit(bundle, change)
    refused(bundle, str(bundle / "bundle.json"), "inputs[0]", "canvas size", "224")


def test_unknown_input_field_is_refused(bundle, no_file_read):
    def change(d):
        d["inputs"][0]["name"] = "soundtrack"

    edit(bundle, change)
    refused(bundle, "inputs[0].name", "'soundtrack'")


def test_more_genres_than_the_graph_gives_is_refused(bundle):
    def change(d):
        d["genres"].append("Western")
        d["decision"]["sets"][0]["rule"]["thresholds"].append(0.5)
        d["decision"]["sets"][0]["calibration"]["params"].append([1.0, 0.0])

    edit(bundle, change)
    refused(bundle, str(bundle / "model.onnx"), "4 probabilities")


def test_fewer_genres_than_the_graph_gives_is_refused(bundle):
    def change(d):
        d["genres"].pop()
        d["decision"]["sets"][0]["rule"]["thresholds"].pop()
        d["decision"]["sets"][0]["calibration"]["params"].pop()

    edit(bundle, change)
    refused(bundle, str(bundle / "model.onnx"), "2 probabilities")


def test_swapped_genres_in_bundle_json_with_valid_checksums_are_refused(bundle):
    edit(bundle, lambda d: d.update(genres=["Drama", "Horror", "Comedy"]))
    doc = read_doc(bundle)
    for name, entry in doc["files"].items():  # every checksum still holds: only names moved
        assert hashlib.sha256((bundle / name).read_bytes()).hexdigest() == entry["sha256"]
    refused(bundle, str(bundle / "model.onnx"), "['Horror', 'Drama', 'Comedy']",
            "['Drama', 'Horror', 'Comedy']", "altered")


def test_graph_that_does_not_name_its_genres_is_refused_with_a_retrain_hint(bundle):
    graph = onnx.load(str(bundle / "model.onnx"))
    assert json.loads({p.key: p.value for p in graph.metadata_props}[GENRES_KEY]) == GENRES
    del graph.metadata_props[:]  # as an older postergenre wrote it
    onnx.save(graph, str(bundle / "model.onnx"))
    data = (bundle / "model.onnx").read_bytes()
    edit(bundle, lambda d: d["files"]["model.onnx"].update(
        sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)))
    refused(bundle, str(bundle / "model.onnx"), "does not name its genres", "retrain")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0, 0.0, 1, 1.0, -0.2, 1.5])
def test_bad_threshold_is_refused(bundle, bad, no_file_read):
    def change(d):
        d["decision"]["sets"][0]["rule"]["thresholds"][1] = bad

    edit(bundle, change)
    refused(bundle, str(bundle / "bundle.json"), "decision.thresholds")


@pytest.mark.parametrize("bad", [True, "0.5", None, [0.5]])
def test_threshold_that_is_not_a_number_is_refused(bundle, bad, no_file_read):
    def change(d):
        d["decision"]["sets"][0]["rule"]["thresholds"][0] = bad

    edit(bundle, change)
    refused(bundle, "decision.thresholds")


def test_threshold_count_must_match_genres(bundle, no_file_read):
    edit(bundle, lambda d: d["decision"]["sets"][0]["rule"]["thresholds"].append(0.5))
    refused(bundle, "decision.thresholds", "3 numbers")


@pytest.mark.parametrize("genres", [
    ["Horror", "Drama", "Horror"],
    ["Horror", "Drama", "horror"],
    ["Horror", "Drama", "HORROR "],
])
def test_duplicated_genre_is_refused(bundle, genres, no_file_read):
    edit(bundle, lambda d: d.update(genres=genres))
    refused(bundle, str(bundle / "bundle.json"), "genres must be unique")


@pytest.mark.parametrize("genres", [[], ["Horror", "", "Comedy"], ["Horror", " ", "Comedy"],
                                    ["Horror", 2, "Comedy"], "Horror"])
def test_empty_or_non_text_genres_are_refused(bundle, genres, no_file_read):
    edit(bundle, lambda d: d.update(genres=genres))
    refused(bundle, "genres")


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../x", ".x", "a/.hidden/m.onnx",
                                 "..", "a\\..\\x", ""])
def test_file_outside_the_bundle_is_refused_before_any_file_is_read(bundle, bad, no_file_read):
    """An extra ``files`` entry with a path leaving the bundle, and the graph pointing at it."""
    outside = bundle.parent / "x"
    shutil.copy(bundle / "model.onnx", outside)  # a real, intact graph: only the path is wrong

    def change(d):
        d["files"][bad] = dict(d["files"]["model.onnx"])
        d["graphs"]["model"]["file"] = bad

    edit(bundle, change)
    msg = refused(bundle, str(bundle / "bundle.json"), "files", repr(bad))
    assert "missing" not in msg and "checksum" not in msg


def test_graph_file_not_listed_in_files_is_refused(bundle, no_file_read):
    edit(bundle, lambda d: d["graphs"]["model"].update(file="other.onnx"))
    refused(bundle, "graphs.model.file")


@pytest.mark.parametrize("field, value", [("sha256", "ABC"), ("sha256", "0" * 63),
                                          ("sha256", None), ("bytes", -1), ("bytes", True),
                                          ("bytes", "1549"), ("bytes", 1.5)])
def test_malformed_file_entry_is_refused(bundle, field, value, no_file_read):
    edit(bundle, lambda d: d["files"]["model.onnx"].update({field: value}))
    refused(bundle, f"files['model.onnx'].{field}")


@pytest.mark.parametrize("path, value", [
    (("graphs", "model", "file"), []),
    (("graphs", "model", "file"), {"a": 1}),
    (("graphs", "model", "inputs"), [["poster"]]),
    (("inputs", 0, "name"), ["poster"]),
    (("decision", "sets", 0, "rule", "thresholds", 0), 10**400),  # a 401-digit JSON integer
    (("decision",), None),
    (("graphs",), []),
    (("files",), ["model.onnx"]),
], ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else type(v).__name__)
def test_mistyped_fields_are_a_user_error_not_a_crash(bundle, path, value):
    """JSON values of an unexpected type (a list where a name goes, an integer too large
    for a float) are refused like any other bad field, not raised as TypeError/OverflowError."""
    doc = read_doc(bundle)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    write_doc(bundle, doc)
    refused(bundle, str(bundle / "bundle.json"))


# --- refusals of the files ---------------------------------------------------------------


def test_changed_bytes_fail_the_checksum(bundle):
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(data))  # same size, other content
    refused(bundle, str(bundle / "model.onnx"), "checksum mismatch")


def test_longer_file_is_refused(bundle):
    with open(bundle / "model.onnx", "ab") as f:
        f.write(b"\0")
    refused(bundle, str(bundle / "model.onnx"), "checksum mismatch")


def test_declared_size_mismatch_is_refused_without_hashing(bundle, monkeypatch):
    edit(bundle, lambda d: d["files"]["model.onnx"].update(bytes=d["files"]["model.onnx"]
                                                             ["bytes"] + 1))

    def forbidden(path):
        raise AssertionError("a size mismatch needs no checksum")

    monkeypatch.setattr(bundle_io, "_sha256", forbidden)
    refused(bundle, str(bundle / "model.onnx"), "checksum mismatch")


def test_missing_graph_file_is_refused(bundle):
    (bundle / "model.onnx").unlink()
    refused(bundle, str(bundle / "model.onnx"), "missing")


def test_graph_that_is_not_onnx_is_refused(bundle):
    junk = b"not a graph at all"
    (bundle / "model.onnx").write_bytes(junk)

    def change(d):
        d["files"]["model.onnx"] = {"sha256": hashlib.sha256(junk).hexdigest(),
                                    "bytes": len(junk)}

    edit(bundle, change)
    refused(bundle, str(bundle / "model.onnx"), "onnxruntime cannot load it")


def test_link_to_a_file_outside_is_refused(bundle, no_file_read):
    outside = bundle.parent / "elsewhere.onnx"
    shutil.move(bundle / "model.onnx", outside)  # intact: the checksum would match
    (bundle / "model.onnx").symlink_to(outside)
    refused(bundle, str(bundle / "model.onnx"), "leaves the bundle")


def test_link_to_a_folder_outside_is_refused(bundle, no_file_read):
    outside = bundle.parent / "elsewhere"
    outside.mkdir()
    shutil.move(bundle / "model.onnx", outside / "model.onnx")
    (bundle / "sub").symlink_to(outside, target_is_directory=True)

    def change(d):
        d["files"]["sub/model.onnx"] = d["files"].pop("model.onnx")
        d["graphs"]["model"]["file"] = "sub/model.onnx"

    edit(bundle, change)
    refused(bundle, "sub/model.onnx", "leaves the bundle")


# --- refusals of bundle.json itself ------------------------------------------------------


def test_missing_bundle_json_is_refused(bundle):
    (bundle / "bundle.json").unlink()
    refused(bundle, str(bundle), "no bundle.json")


def test_missing_folder_is_refused(tmp_path):
    refused(tmp_path / "nowhere", "no bundle.json")


@pytest.mark.parametrize("content", [b"{not json", b"", b'{"kind": "postergenre-bundle",',
                                     b"\xff\xfe\x00garbage", '{"kind": "ü"}'.encode("latin-1")])
def test_unreadable_bundle_json_is_refused(bundle, content):
    (bundle / "bundle.json").write_bytes(content)
    refused(bundle, str(bundle / "bundle.json"), "unreadable bundle metadata")


def test_deeply_nested_bundle_json_is_a_user_error(bundle):
    depth = 200_000
    (bundle / "bundle.json").write_text("[" * depth + "]" * depth)
    refused(bundle, str(bundle / "bundle.json"))


def test_oversized_bundle_json_is_refused_unread(bundle, monkeypatch):
    with open(bundle / "bundle.json", "r+b") as f:
        f.truncate(bundle_io.MAX_META_BYTES + 1)  # sparse: costs no disk

    def forbidden(*args, **kwargs):
        raise AssertionError("an oversized bundle.json must not be parsed")

    monkeypatch.setattr(bundle_io.json, "loads", forbidden)
    refused(bundle, str(bundle / "bundle.json"), "larger than 16 MB")


def test_bundle_json_at_the_limit_is_read(bundle):
    """The limit is on size alone: a valid document padded to exactly the limit still loads."""
    text = json.dumps(read_doc(bundle))
    pad = bundle_io.MAX_META_BYTES - len(text.encode())
    (bundle / "bundle.json").write_text(text[:-1] + " " * pad + "}")
    assert (bundle / "bundle.json").stat().st_size == bundle_io.MAX_META_BYTES
    assert load_bundle(bundle).genres == GENRES


# --- properties of the document check ----------------------------------------------------

VALID = {
    "kind": "postergenre-bundle",
    "format": 3,
    "genres": ["Horror", "Drama", "Comedy"],
    "decision": {"type": "calibrated-per-input-set", "optional": [], "sets": [
        {"inputs": [], "calibration": {"method": "platt", "params": [[1.0, 0.0]] * 3},
         "rule": {"type": "per-genre-thresholds+cap", "thresholds": [0.3, 0.5, 0.7],
                  "max_genres": 2, "at_least_one": True}, "fitted_on": 0, "source": None}]},
    "inputs": [declaration([Pixels(PIXELS_HW)])],
    "graphs": {"model": {"file": "model.onnx", "inputs": ["poster"], "output": "probabilities"}},
    "files": {"model.onnx": {"sha256": "0" * 64, "bytes": 1549}},
    "model": {"name": "toy"},
}

json_leaf = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300)
             | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
             | st.sampled_from(["poster", "model.onnx", "../model.onnx", "Horror", "image",
                                "per-genre-thresholds+cap", "postergenre-bundle", "0" * 64]))
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12,
)


def _paths(node):
    """Every (container, key) pair of a JSON document, containers before their contents."""
    keys = list(node) if isinstance(node, dict) else range(len(node))
    for key in keys:
        yield node, key
        if isinstance(node[key], dict | list):
            yield from _paths(node[key])


def _mutate(doc, data) -> None:
    """Drop, replace or add something at a node of ``doc`` picked uniformly."""
    node, key = data.draw(st.sampled_from(list(_paths(doc))))
    action = data.draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        del node[key]
    elif action == "replace":
        node[key] = data.draw(json_value)
    elif isinstance(node[key], dict):
        node[key][data.draw(st.text(max_size=6))] = data.draw(json_value)
    elif isinstance(node[key], list):
        node[key].append(data.draw(json_value))
    else:
        node[key] = data.draw(json_value)


def test_the_valid_document_is_valid():
    rule = check_document(copy.deepcopy(VALID)).full.rule
    assert rule.max_genres == 2 and rule.thresholds.tolist() == pytest.approx([0.3, 0.5, 0.7])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(1, 3))
def test_check_document_refuses_or_accepts_never_crashes(data, rounds):
    doc = copy.deepcopy(VALID)
    for _ in range(rounds):
        _mutate(doc, data)
    try:
        rule = check_document(doc)
    except DocumentError as e:
        assert "\n" not in str(e)
        return
    # accepted: whatever it returns is fit to decide with
    assert isinstance(rule, DecisionRules)
    genres = doc["genres"]
    assert all(s.rule.thresholds.shape == (len(genres),) for s in rule.sets)
    for s in rule.sets:
        assert np.all((s.rule.thresholds > 0) & (s.rule.thresholds < 1))
        assert s.rule.max_genres is None or (type(s.rule.max_genres) is int
                                             and s.rule.max_genres >= 1)
    assert all(safe_relative(name) for name in doc["files"])
    assert doc["graphs"]["model"]["file"] in doc["files"]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), value=json_value)
def test_check_document_with_any_value_anywhere_at_the_top(data, value):
    doc = copy.deepcopy(VALID)
    doc[data.draw(st.sampled_from(sorted(VALID)))] = value
    try:
        check_document(doc)
    except DocumentError:
        pass


part = st.text(st.characters(blacklist_characters="/\x00\\"), min_size=1, max_size=6)
plain_part = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,7}", fullmatch=True)


@given(before=st.lists(part, max_size=3), after=st.lists(part, max_size=3),
       absolute=st.booleans())
@example(before=[], after=["x"], absolute=False)
@example(before=["a"], after=["..", "x"], absolute=False)
def test_safe_relative_refuses_parent_parts(before, after, absolute):
    name = "/".join([*before, "..", *after])
    if absolute:
        name = "/" + name
    assert not safe_relative(name)


@given(parts=st.lists(part, min_size=1, max_size=4))
def test_safe_relative_refuses_absolute_paths(parts):
    assert not safe_relative("/" + "/".join(parts))
    assert not safe_relative("//" + "/".join(parts))


@given(parts=st.lists(plain_part, min_size=1, max_size=4))
def test_safe_relative_accepts_plain_paths_and_they_stay_inside(parts):
    name = "/".join(parts)
    assert safe_relative(name)
    root = Path("/bundle")
    assert os.path.normpath(root / name).startswith(str(root) + "/")
    assert ".." not in PurePosixPath(name).parts
