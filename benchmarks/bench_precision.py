"""int8 against fp32 and PyTorch: posters/s per backbone and end to end, in one process.

    python benchmarks/bench_precision.py --fp32 runs/fusion/model --int8 runs/fusion-int8/model
        [--n 400] [--seconds 8] [--cold-train DATA --split FILE [--precisions int8,fp32]]

Per backbone of the int8 bundle: PyTorch eager fp32 (``BackboneFeatures`` on a batch, what a
user would write by hand), onnxruntime fp32 and onnxruntime int8 (the cached graphs, bare, on
random canvases). Then both bundles end to end from poster files (``predict_files``: read,
decode, canvas, graph, decision), alternated twice, best of each kept. The ratios print last.
``--cold-train`` also times ``postergenre train`` with an empty cache for each precision.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from results import write_results  # benchmarks/results.py

from postergenre.bundle import load_bundle
from postergenre.features.backbones import BackboneFeatures, get_spec
from postergenre.features.onnx_export import backbone_onnx, canvas_example
from postergenre.features.quantize import int8_path
from postergenre.features.runtime import cpu_count, throughput
from postergenre.predict import predict_files

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def eager(name: str, seconds: float, batch: int = 8) -> float:
    """Posters/s of the backbone in plain PyTorch, fp32, no grad."""
    model, x = BackboneFeatures(name), canvas_example(batch)
    with torch.inference_mode():
        model(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(x)
            n += batch
    return n / (time.perf_counter() - start)


def end_to_end(bundle_dir: Path, files: list[Path]) -> float:
    bundle = load_bundle(bundle_dir)
    list(predict_files(bundle, files[:16]))  # warm-up
    start = time.perf_counter()
    preds = list(predict_files(bundle, files))
    assert not any(p.error for p in preds)
    return len(files) / (time.perf_counter() - start)


def combined(rates: list[float]) -> float:
    """Posters/s of running every backbone on each poster, from per-backbone rates."""
    return 1 / sum(1 / r for r in rates)


def cold_train(data: Path, split: Path, precision: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POSTERGENRE_CACHE": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        cli = str(Path(sys.executable).parent / "postergenre")
        subprocess.run([cli, "train", str(data), "--out", str(Path(tmp) / "run"), "--split",
                        str(split), "--precision", precision], env=env, check=True)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fp32", type=Path, required=True, help="an fp32 bundle")
    ap.add_argument("--int8", type=Path, required=True, help="the same model, int8")
    ap.add_argument("--posters", type=Path, default=POSTERS)
    ap.add_argument("--n", type=int, default=400, help="posters end to end")
    ap.add_argument("--seconds", type=float, default=8.0, help="per bare measurement")
    ap.add_argument("--cold-train", type=Path, help="a dataset to train on with empty caches")
    ap.add_argument("--split", type=Path, help="the split file for --cold-train")
    ap.add_argument("--precisions", default="int8,fp32")
    args = ap.parse_args()
    torch.set_num_threads(cpu_count())
    print(f"{cpu_count()} CPUs, torch {torch.__version__}, batch 8")

    inputs = load_bundle(args.int8).meta["inputs"][0]["preprocessing"]["inputs"]
    rates: dict[str, list[float]] = {"torch fp32": [], "onnx fp32": [], "onnx int8": []}
    backbones = []
    print(f"{'backbone':<20}{'torch fp32/s':>14}{'onnx fp32/s':>13}{'onnx int8/s':>13}"
          f"{'int8/torch':>12}{'int8/onnx':>11}")
    for entry in inputs.values():
        name, digest = entry["backbone"]["name"], entry["calibration"]["digest"]
        row = [eager(name, args.seconds),
               throughput(backbone_onnx(name), seconds=args.seconds),
               throughput(int8_path(get_spec(name), digest), seconds=args.seconds)]
        for key, r in zip(rates, row, strict=True):
            rates[key].append(r)
        backbones.append({"backbone": name, "torch fp32 posters/s": row[0],
                          "onnx fp32 posters/s": row[1], "onnx int8 posters/s": row[2],
                          "int8 vs torch": row[2] / row[0], "int8 vs onnx fp32": row[2] / row[1]})
        print(f"{name:<20}{row[0]:>14.1f}{row[1]:>13.1f}{row[2]:>13.1f}"
              f"{row[2] / row[0]:>11.2f}x{row[2] / row[1]:>10.2f}x", flush=True)
    all3 = {k: combined(v) for k, v in rates.items()}
    print(f"{'all backbones':<20}" + "".join(f"{all3[k]:>{w}.1f}" for k, w in
                                              zip(rates, (14, 13, 13), strict=True)))
    backbones.append({"backbone": "all backbones", "torch fp32 posters/s": all3["torch fp32"],
                      "onnx fp32 posters/s": all3["onnx fp32"],
                      "onnx int8 posters/s": all3["onnx int8"],
                      "int8 vs torch": all3["onnx int8"] / all3["torch fp32"],
                      "int8 vs onnx fp32": all3["onnx int8"] / all3["onnx fp32"]})

    files = sorted(args.posters.glob("*.webp"))[: args.n]
    best = {"fp32": 0.0, "int8": 0.0}
    for _ in range(2):
        for key, path in (("fp32", args.fp32), ("int8", args.int8)):
            best[key] = max(best[key], end_to_end(path, files))
    print(f"\nend to end from {len(files)} files (predict_files), best of 2:")
    print(f"  fp32 bundle {best['fp32']:.1f} posters/s   int8 bundle {best['int8']:.1f} posters/s")
    print(f"  int8 bundle / fp32 bundle: {best['int8'] / best['fp32']:.2f}x (target >= 2.0)")
    print(f"  int8 bundle / PyTorch eager fp32 on the same backbones "
          f"({all3['torch fp32']:.1f}/s bare): {best['int8'] / all3['torch fp32']:.2f}x "
          f"(target >= 4.0)")

    figures = {"batch size": 8, "bare posters/s, batch 8": backbones,
               "end to end": {"posters": len(files),
                              "fp32 bundle posters/s": best["fp32"],
                              "int8 bundle posters/s": best["int8"],
                              "int8 vs fp32 bundle": best["int8"] / best["fp32"],
                              "int8 bundle vs torch eager fp32":
                                  best["int8"] / all3["torch fp32"]}}
    if args.cold_train:
        if not args.split:
            ap.error("--cold-train needs --split")
        figures["cold train"] = []
        for precision in args.precisions.split(","):
            seconds = cold_train(args.cold_train, args.split, precision)
            print(f"cold train, {precision}: {seconds:.0f} s ({seconds / 60:.1f} min)",
                  flush=True)
            figures["cold train"].append({"precision": precision, "seconds": seconds})
    write_results(Path(__file__).stem, figures)


if __name__ == "__main__":
    main()
