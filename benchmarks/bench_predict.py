"""Predict throughput of a bundle, end to end from files vs bare onnxruntime, and peak memory.

    python benchmarks/bench_predict.py runs/default/model [--posters 512] [--batch-size 8]

Prints posters/s of ``predict_files`` (decode + canvas + inference + decision, from files),
posters/s of the bundle's graph alone on ready-made input with the same batch size, in the
same run, and their ratio (target: at least 0.70).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from results import write_results  # benchmarks/results.py

from postergenre.bundle import load_bundle
from postergenre.features.canvas import CANVAS_HW
from postergenre.predict import predict_files

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def bare_throughput(bundle, n: int, batch_size: int) -> float:
    h, w = CANVAS_HW
    x = (np.random.default_rng(0).random((batch_size, 3, h, w)) * 255).astype(np.float32)
    bundle.run({"poster": x})  # warm-up
    start = time.perf_counter()
    done = 0
    while done < n:
        bundle.run({"poster": x})
        done += batch_size
    return done / (time.perf_counter() - start)


def end_to_end_throughput(bundle, files: list[Path], batch_size: int) -> float:
    list(predict_files(bundle, files[:batch_size], batch_size=batch_size))  # warm-up
    start = time.perf_counter()
    n = sum(1 for _ in predict_files(bundle, files, batch_size=batch_size))
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--posters", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--images", type=Path, default=POSTERS)
    args = ap.parse_args()
    bundle = load_bundle(args.model)
    files = sorted(args.images.glob("*.webp"))[: args.posters]
    e2e = end_to_end_throughput(bundle, files, args.batch_size)
    bare = bare_throughput(bundle, len(files), args.batch_size)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model: {args.model} ({', '.join(bundle.meta['model']['backbones'])})")
    print(f"predict end to end from files: {e2e:8.1f} posters/s ({len(files)} posters)")
    print(f"bare onnxruntime, same graph:  {bare:8.1f} posters/s")
    print(f"ratio:                         {e2e / bare:8.2f}  (target >= 0.70)")
    print(f"peak memory (RSS):             {peak_mb:8.0f} MB")
    write_results(Path(__file__).stem, {
        "model": str(args.model), "backbones": ", ".join(bundle.meta["model"]["backbones"]),
        "posters": len(files), "batch size": args.batch_size,
        "predict posters/s, from files": e2e, "bare onnxruntime posters/s": bare,
        "ratio": e2e / bare, "peak RSS MB": peak_mb})


if __name__ == "__main__":
    main()
