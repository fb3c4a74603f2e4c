"""Writing and loading model bundles, with integrity and compatibility checks.

A bundle is a folder with its graph file(s) and ``bundle.json`` (``format``): the declared
inputs and their preprocessing, genres, the decision rule, metrics, data/split fingerprints,
package versions and the sha256 of every file. Loading checks the whole document first, then
every file's size and checksum, then that the graph takes the declared inputs and gives one
output per genre, named as ``bundle.json`` names them (the graph's own metadata,
``GENRES_KEY``). Nothing in a bundle can run code when loaded.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from ..atomic import write_json
from ..errors import UserError
from ..evaluation.rules import DecisionRules
from ..evaluation.thresholds import DecisionRule
from ..features.runtime import open_session
from ..features.specs import FIELDS
from ..features.text import trim
from .format import FORMAT, GRAPH, KIND, META_FILE, DocumentError, check_document
from .graph import OUTPUT

MODEL_FILE = "model.onnx"
TEXT_INPUTS = {name for name, f in FIELDS.items() if f.type == "text"}
MAX_META_BYTES = 16 << 20
GENRES_KEY = "postergenre.genres"  # the graph's metadata: its output columns, a JSON list


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    names = ["postergenre", "torch", "onnx", "onnxruntime", "numpy", "pillow", "scikit-learn"]
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_bundle(out: Path, graph_file: Path, genres: list[str], rules: DecisionRules,
                 inputs: list[dict], info: dict) -> Path:
    """Copy the graph into ``out`` and write a checked ``bundle.json`` describing it.

    ``inputs``: one declaration per record field the graph takes (name, type, required,
    preprocessing), in the graph's input order.
    """
    out.mkdir(parents=True, exist_ok=True)
    model = out / MODEL_FILE
    tmp = out / f".{MODEL_FILE}.tmp"
    _copy_naming_genres(graph_file, tmp, genres)
    tmp.replace(model)
    doc = {
        "kind": KIND,
        "format": FORMAT,
        "genres": list(genres),
        "decision": rules.to_json(),
        "inputs": inputs,
        "graphs": {GRAPH: {"file": MODEL_FILE, "inputs": [i["name"] for i in inputs],
                           "output": OUTPUT}},
        "files": {MODEL_FILE: {"sha256": _sha256(model), "bytes": model.stat().st_size}},
        "versions": package_versions(),
        **info,
    }
    check_document(doc)
    write_json(out / META_FILE, doc)
    return out


def _copy_naming_genres(graph_file: Path, out: Path, genres: list[str]) -> None:
    """Copy the graph, recording its output columns' names in its metadata (before the
    bundle hashes it), so that genres renamed or reordered in ``bundle.json`` are refused."""
    graph = onnx.load(str(graph_file))
    kept = [p for p in graph.metadata_props if p.key != GENRES_KEY]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    graph.metadata_props.add(key=GENRES_KEY, value=json.dumps(list(genres)))
    onnx.save(graph, str(out))


def _graph_genres(session: ort.InferenceSession) -> list | None:
    """The genre names the graph records (``None``: none, or not a JSON list)."""
    value = session.get_modelmeta().custom_metadata_map.get(GENRES_KEY)
    try:
        genres = json.loads(value) if value is not None else None
    except json.JSONDecodeError:
        return None
    return genres if isinstance(genres, list) else None


@dataclass
class Bundle:
    path: Path
    meta: dict
    rules: DecisionRules  # a calibration and decision rule per set of optional inputs
    session: ort.InferenceSession

    @property
    def genres(self) -> list[str]:
        return self.meta["genres"]

    @property
    def rule(self) -> DecisionRule:
        """The decision rule of a record that gives every input the model reads."""
        return self.rules.full.rule

    @property
    def thresholds(self) -> np.ndarray:
        return self.rule.thresholds

    def answer(self, raw: np.ndarray, given: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and decisions for the graph's ``raw`` scores, row ``i``
        by the rule of the fields ``given[i]`` (the inputs its record gave)."""
        return self.rules.apply(raw, given)

    @property
    def inputs(self) -> list[dict]:
        """The declared inputs the graph takes, in its input order."""
        by_name = {i["name"]: i for i in self.meta["inputs"]}
        return [by_name[name] for name in self.meta["graphs"][GRAPH]["inputs"]]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities (N, G) for one batch per graph input (e.g. ``{"poster": canvases}``).
        Token ids are cut to the batch's longest text where the graph takes any length."""
        feeds = {name: trim(x) if name in self._any_length else x for name, x in feeds.items()}
        return self.session.run([OUTPUT], feeds)[0]

    @cached_property
    def _any_length(self) -> set[str]:
        return {i.name for i in self.session.get_inputs()
                if i.name in TEXT_INPUTS and len(i.shape) > 1 and not isinstance(i.shape[1], int)}


def load_bundle(path: str | Path, threads: int | None = None) -> Bundle:
    """Open a bundle folder; ``UserError`` if it is missing, foreign, altered or incompatible."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{path}: not a postergenre model bundle (no {META_FILE})")
    if meta_path.stat().st_size > MAX_META_BYTES:
        raise UserError(f"{meta_path}: larger than {MAX_META_BYTES >> 20} MB, not a bundle file")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        rule = check_document(meta)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise UserError(f"{meta_path}: unreadable bundle metadata ({type(e).__name__})") from None
    except DocumentError as e:
        raise UserError(f"{meta_path}: {e}") from None
    root = path.resolve()
    for name, entry in meta["files"].items():
        file = path / name
        if not file.resolve().is_relative_to(root):
            raise UserError(f"{file}: leaves the bundle folder (a link?)")
        if not file.is_file():
            raise UserError(f"{file}: missing from the bundle")
        if file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            raise UserError(f"{file}: checksum mismatch, the bundle is corrupted or was altered")
    graph = meta["graphs"][GRAPH]
    model_file = path / graph["file"]
    try:
        session = open_session(model_file, threads)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several untyped errors
        raise UserError(f"{model_file}: onnxruntime cannot load it ({e})") from None
    if [i.name for i in session.get_inputs()] != graph["inputs"]:
        raise UserError(f"{model_file}: graph inputs {[i.name for i in session.get_inputs()]} "
                        f"are not the declared {graph['inputs']}")
    outputs = session.get_outputs()
    if len(outputs) != 1 or outputs[0].name != OUTPUT or outputs[0].shape[-1] != len(
            meta["genres"]):
        raise UserError(f"{model_file}: graph does not give {len(meta['genres'])} "
                        f"probabilities (one per genre)")
    named = _graph_genres(session)
    if named is None:
        raise UserError(f"{model_file}: the graph does not name its genres (made by an older "
                        "postergenre); retrain it with `postergenre train`")
    if named != meta["genres"]:
        raise UserError(f"{model_file}: the graph gives the genres {named}, bundle.json lists "
                        f"{meta['genres']}; the bundle was altered")
    return Bundle(path, meta, rule, session)


def add_metrics(bundle_dir: Path, metrics: dict) -> None:
    """Record ``metrics`` in a bundle's document (they are scored after it is written)."""
    meta_path = bundle_dir / META_FILE
    doc = json.loads(meta_path.read_text(encoding="utf-8"))
    doc["metrics"] = metrics
    write_json(meta_path, doc)
