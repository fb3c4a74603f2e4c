"""Writing and loading model bundles, with integrity and compatibility checks.

A bundle is a folder with ``model.onnx`` (pixels → probabilities, backbone and head fused)
and ``bundle.json`` (genres, thresholds, preprocessing, metrics, data/split fingerprints,
package versions, and the sha256 of every file). Nothing in it can run code when loaded.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..atomic import write_json
from ..errors import UserError
from ..features.runtime import open_session

BUNDLE_FORMAT = 1
KIND = "postergenre-bundle"
MODEL_FILE = "model.onnx"
META_FILE = "bundle.json"


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


def write_bundle(
    out: Path,
    onnx_file: Path,
    genres: list[str],
    thresholds: np.ndarray,
    preprocessing: dict,
    info: dict,
) -> Path:
    """Copy ``onnx_file`` into ``out`` and write ``bundle.json`` describing it (atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    model = out / MODEL_FILE
    tmp = out / f".{MODEL_FILE}.tmp"
    shutil.copyfile(onnx_file, tmp)
    tmp.replace(model)
    meta = {
        "kind": KIND,
        "format": BUNDLE_FORMAT,
        "genres": list(genres),
        "thresholds": [float(t) for t in thresholds],
        "preprocessing": preprocessing,
        "files": {MODEL_FILE: _sha256(model)},
        "versions": package_versions(),
        **info,
    }
    write_json(out / META_FILE, meta)
    return out


@dataclass
class Bundle:
    path: Path
    meta: dict
    session: ort.InferenceSession

    @property
    def genres(self) -> list[str]:
        return self.meta["genres"]

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray(self.meta["thresholds"], dtype=np.float32)

    @property
    def canvas_hw(self) -> tuple[int, int]:
        h, w = self.meta["preprocessing"]["canvas_hw"]
        return int(h), int(w)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, G) for a float32 NCHW batch of canvas pixels in [0, 255]."""
        name = self.session.get_inputs()[0].name
        return self.session.run(None, {name: batch})[0]


def load_bundle(path: str | Path, threads: int | None = None) -> Bundle:
    """Open a bundle folder; ``UserError`` if it is missing, foreign, altered or incompatible."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{path}: not a postergenre model bundle (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{meta_path}: unreadable bundle metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        raise UserError(f"{meta_path}: not a postergenre model bundle")
    if meta.get("format") != BUNDLE_FORMAT:
        raise UserError(
            f"{meta_path}: bundle format {meta.get('format')!r}, this postergenre reads "
            f"format {BUNDLE_FORMAT}; retrain or upgrade"
        )
    for name, digest in meta.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise UserError(f"{file}: missing from the bundle")
        if _sha256(file) != digest:
            raise UserError(f"{file}: checksum mismatch, the bundle is corrupted or was altered")
    if MODEL_FILE not in meta.get("files", {}):
        raise UserError(f"{meta_path}: lists no {MODEL_FILE}")
    if len(meta.get("thresholds", [])) != len(meta.get("genres", [])):
        raise UserError(f"{meta_path}: genres and thresholds differ in length")
    try:
        session = open_session(path / MODEL_FILE, threads)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several untyped errors
        raise UserError(f"{path / MODEL_FILE}: onnxruntime cannot load it ({e})") from None
    from ..features.canvas import CANVAS_HW

    if tuple(meta.get("preprocessing", {}).get("canvas_hw", ())) != CANVAS_HW:
        raise UserError(f"{meta_path}: canvas size {meta.get('preprocessing')} is not {CANVAS_HW}")
    out = session.get_outputs()[0].shape
    if out[-1] != len(meta["genres"]):
        raise UserError(f"{path}: graph gives {out[-1]} outputs for {len(meta['genres'])} genres")
    return Bundle(path, meta, session)
