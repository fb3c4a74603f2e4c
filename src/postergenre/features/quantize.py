"""int8 backbones: a backbone's fp32 ONNX graph statically quantised on real posters.

The calibration set is a fixed, seeded sample of training posters (``calibration_set``: the
same posters for the same training contents, whatever the run's seed), so a backbone's int8
graph is made once per (backbone version, calibration set) and cached beside the fp32 export
in ``<cache>/onnx``. Quantisation is QDQ with per-channel int8 weights and uint8 activations
whose ranges are the min/max seen on the calibration canvases (onnxruntime's tools). The
calibration digest is part of the int8 embeddings' cache version, so int8 and fp32 rows, or
rows of two calibrations, never mix.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, temp_folder
from ..cache import default_cache_dir
from ..errors import UserError
from .backbones import BackboneSpec, resolve
from .canvas import to_batch
from .onnx_export import INPUT_NAME, backbone_onnx, onnx_path
from .producer import load_poster

PRECISIONS = ("fp32", "int8")
CALIBRATION_POSTERS = 64
CALIBRATION_SEED = 0
QUANT_REVISION = 1  # bump when the quantisation recipe changes
PathLike = str | os.PathLike


@dataclass(frozen=True)
class Calibration:
    """The posters whose canvases set the int8 activation ranges (content hash, file)."""

    hashes: tuple[str, ...]
    paths: tuple[str, ...]

    @property
    def digest(self) -> str:
        blob = "\n".join([f"q{QUANT_REVISION}", *self.hashes]).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def describe(self) -> dict:
        return {"posters": len(self.hashes), "seed": CALIBRATION_SEED, "digest": self.digest,
                "method": "static QDQ, per-channel int8 weights, uint8 activations, min/max"}

    def canvases(self) -> Iterator[np.ndarray]:
        """The calibration posters' canvases (one that does not decode is left out: it is left
        out of training too)."""
        for key, path in zip(self.hashes, self.paths, strict=True):
            _, canvas, _ = load_poster((key, path))
            if canvas is not None:
                yield canvas


def calibration_set(paths: Sequence[PathLike], hashes: Sequence[str | None],
                    n: int = CALIBRATION_POSTERS) -> Calibration:
    """``n`` distinct poster contents drawn (seed ``CALIBRATION_SEED``) from the given
    training posters, chosen by content so that the order of the table does not matter
    (a ``None`` hash: an unreadable file, never drawn)."""
    first: dict[str, str] = {}
    for path, key in zip(paths, hashes, strict=True):
        if key:
            first.setdefault(key, str(path))
    if not first:
        raise UserError("int8 needs training posters to calibrate on; there are none")
    keys = sorted(first)
    rng = np.random.default_rng(CALIBRATION_SEED)
    chosen = sorted(rng.choice(len(keys), min(n, len(keys)), replace=False))
    return Calibration(tuple(keys[i] for i in chosen), tuple(first[keys[i]] for i in chosen))


def int8_path(backbone: str | BackboneSpec, digest: str, cache_dir: PathLike | None = None
              ) -> Path:
    """Where the int8 graph of a backbone for the calibration of this digest is cached."""
    fp32 = onnx_path(backbone, cache_dir)
    return fp32.with_name(f"{fp32.stem}-int8-{digest}.onnx")


def int8_onnx(backbone: str | BackboneSpec, calibration: Calibration,
              cache_dir: PathLike | None = None, batch: int = 8) -> Path:
    """Path of the backbone's int8 graph for this calibration, quantised if absent."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    spec = resolve(backbone)
    path = int8_path(spec, calibration.digest, cache_dir)
    if path.exists():
        return path
    fp32 = backbone_onnx(spec, cache_dir or default_cache_dir())  # also makes the folder
    canvases = list(calibration.canvases())
    if not canvases:
        raise UserError("int8: none of the calibration posters decodes")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(to_batch(canvases[i:i + batch])
                                for i in range(0, len(canvases), batch))

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {INPUT_NAME: x}

    with temp_folder() as tmp, atomic_path(path) as out:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        calibration_providers=["CPUExecutionProvider"])
    return path


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    return precision
