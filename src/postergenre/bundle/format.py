"""``bundle.json``, format 2: what a bundle declares, and the check of all of it.

    kind, format   "postergenre-bundle", 2
    genres         the output columns, unique non-empty names
    decision       per set of optional inputs: a calibration and a decision rule
                   (per-genre thresholds in (0, 1), cap, floor) (``evaluation.rules``)
    inputs         record fields the model takes: name, type, required, preprocessing
    graphs         {"model": {"file", "inputs", "output"}}: which file runs, on which fields
    files          {relative path: {"sha256", "bytes"}} for every file the bundle holds
    model, metrics, vocabulary, data, versions   descriptive, for people and reports

``check_document`` validates every field that loading or running relies on, before any
file is opened: a NaN threshold, a duplicated genre or a path leaving the bundle is refused
with one line naming the field.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..evaluation.rules import DecisionRules
from ..features.canvas import CANVAS_HW
from ..features.specs import FIELDS

KIND = "postergenre-bundle"
FORMAT = 3
META_FILE = "bundle.json"
GRAPH = "model"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class DocumentError(ValueError):
    """``bundle.json`` is not a valid format-2 document; the message names the field."""


def check_document(doc: object) -> DecisionRules:
    """Validate a whole format-3 document; returns its decision rules."""
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise DocumentError("not a postergenre model bundle")
    if doc.get("format") != FORMAT:
        hint = ("; retrain it with `postergenre train`" if doc.get("format") in (1, 2)
                else "; retrain, or upgrade postergenre")
        raise DocumentError(f"bundle format {doc.get('format')!r}, this postergenre reads "
                            f"format {FORMAT}{hint}")
    genres = doc.get("genres")
    if (not isinstance(genres, list) or not genres
            or not all(isinstance(g, str) and g.strip() for g in genres)):
        raise DocumentError("genres must be a non-empty list of non-empty names")
    if len({g.strip().casefold() for g in genres}) != len(genres):
        raise DocumentError("genres must be unique (a duplicated genre would hide another)")
    try:
        rule = DecisionRules.from_json(doc.get("decision"), len(genres))
    except ValueError as e:
        raise DocumentError(str(e)) from None
    files = _check_files(doc.get("files"))
    names = _check_inputs(doc.get("inputs"))
    graph = doc.get("graphs", {}).get(GRAPH) if isinstance(doc.get("graphs"), dict) else None
    if (not isinstance(graph, dict) or not isinstance(graph.get("file"), str)
            or graph["file"] not in files):
        raise DocumentError(f"graphs.{GRAPH}.file must name one of the bundle's files")
    if (not isinstance(graph.get("inputs"), list) or not graph["inputs"]
            or not all(isinstance(n, str) for n in graph["inputs"])
            or not set(graph["inputs"]) <= set(names)
            or len(set(graph["inputs"])) != len(graph["inputs"])):
        raise DocumentError(f"graphs.{GRAPH}.inputs must name declared inputs, once each")
    optional = [i["name"] for i in doc["inputs"] if not i["required"]]
    if sorted(rule.optional) != sorted(optional):
        raise DocumentError(f"decision.optional {list(rule.optional)} must be the optional "
                            f"inputs {optional}")
    return rule


def _check_inputs(inputs: object) -> list[str]:
    if not isinstance(inputs, list) or not inputs:
        raise DocumentError("inputs must be a non-empty list")
    names = []
    for i, entry in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(entry, dict):
            raise DocumentError(f"{where} must be an object")
        name = entry.get("name")
        if not isinstance(name, str) or name not in FIELDS:
            raise DocumentError(f"{where}.name {name!r} is not an input this postergenre "
                                f"knows ({', '.join(FIELDS)})")
        if entry.get("type") != FIELDS[name].type:
            raise DocumentError(f"{where}.type must be {FIELDS[name].type!r} for {name!r}")
        if not isinstance(entry.get("required"), bool):
            raise DocumentError(f"{where}.required must be true or false")
        prep = entry.get("preprocessing")
        if not isinstance(prep, dict):
            raise DocumentError(f"{where}.preprocessing must be an object")
        if FIELDS[name].type == "image" and prep.get("canvas_hw") != list(CANVAS_HW):
            raise DocumentError(f"{where}: canvas size {prep.get('canvas_hw')} is not "
                                f"{list(CANVAS_HW)}")
        names.append(name)
    if len(set(names)) != len(names):
        raise DocumentError("inputs must not repeat a name")
    return names


def _check_files(files: object) -> dict:
    if not isinstance(files, dict) or not files:
        raise DocumentError("files must be a non-empty object")
    for name, entry in files.items():
        if not safe_relative(name):
            raise DocumentError(f"files: {name!r} is not a plain path inside the bundle")
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or not _SHA256.fullmatch(entry["sha256"])):
            raise DocumentError(f"files[{name!r}].sha256 must be 64 lowercase hex digits")
        size = entry.get("bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise DocumentError(f"files[{name!r}].bytes must be a non-negative integer")
    return files


def safe_relative(name: object) -> bool:
    """A relative POSIX path of plain parts: no root, no ``..``, no backslash, no hidden part."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and all(p and not p.startswith(".") for p in path.parts)
