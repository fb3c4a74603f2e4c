"""Posters per second of each image backbone on this machine's CPU.

    python benchmarks/bench_backbones.py [--n 500] [--seconds 10] [--backbones a,b]

For each backbone: the ONNX export time, bare onnxruntime throughput on random canvas input,
and end-to-end ``embed`` from files (read, hash, decode, canvas, inference, cache write) on the
first N posters of ``../shared/data/movie-posters/posters`` into a fresh temporary cache.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results import write_results  # benchmarks/results.py

from postergenre.features import backbone_onnx, embed, get_spec, list_backbones, throughput
from postergenre.features.runtime import cpu_count

POSTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movie-posters" / "posters"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="posters for the end-to-end run")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of the bare run")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--backbones", default=",".join(list_backbones()))
    ap.add_argument("--posters", type=Path, default=POSTERS)
    args = ap.parse_args()

    paths = sorted(args.posters.glob("*.webp"))[: args.n]
    if len(paths) < args.n:
        raise SystemExit(f"{args.posters}: found {len(paths)} posters, wanted {args.n}")
    print(f"{cpu_count()} CPUs, batch {args.batch_size}, {len(paths)} posters end to end")
    header = f"{'backbone':<20}{'input HxW':>11}{'export s':>10}{'bare /s':>10}{'embed /s':>10}"
    print(header)
    rows = []
    for name in args.backbones.split(","):
        spec = get_spec(name)
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            onnx = backbone_onnx(spec, cache)
            export_s = time.perf_counter() - start
            bare = throughput(onnx, batch_size=args.batch_size, seconds=args.seconds)
            start = time.perf_counter()
            emb, failures = embed(
                paths, None, spec, cache, batch_size=args.batch_size, progress=False
            )
            e2e = len(paths) / (time.perf_counter() - start)
        hw = "x".join(map(str, spec.input_hw))
        print(f"{name:<20}{hw:>11}{export_s:>10.1f}{bare:>10.1f}{e2e:>10.1f}", flush=True)
        if failures:
            print(f"  {len(failures)} posters failed, e.g. {next(iter(failures.items()))}")
        rows.append({"backbone": name, "input HxW": hw, "export s": export_s,
                     "bare posters/s": bare, "embed posters/s": e2e, "failed": len(failures)})
    write_results(Path(__file__).stem, {"batch size": args.batch_size,
                                        "posters end to end": len(paths), "backbones": rows})


if __name__ == "__main__":
    main()
