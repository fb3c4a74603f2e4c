"""Embedding posters locally vs as Ray tasks on this machine, and what starting Ray costs.

    python benchmarks/bench_ray.py [--posters 500] [--backbone efficientnet_lite0]
                                   [--cpus N] [--address HEAD:6379]

Prints posters/s of ``produce_files`` (hash, decode, canvas, backbone, cache write) on the
local path and with ``RayEngine``, cold (the first run starts the worker processes) and warm,
into a fresh cache each time (the backbone's ONNX graph is exported beforehand), and the
seconds ``ray.init`` plus a first task take. On one machine Ray adds overhead and no cores:
the same order of posters/s is expected.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from results import write_results  # benchmarks/results.py

from postergenre.features.embeddings import embedding_producer
from postergenre.features.engine import RayEngine, ray_module
from postergenre.features.onnx_export import backbone_onnx
from postergenre.features.producer import produce_files
from postergenre.features.runtime import cpu_count

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def timed_embed(files: list[Path], backbone: str, cache: Path, engine=None) -> tuple:
    """(posters/s, rows) of embedding ``files`` into an empty store under ``cache``."""
    producer = embedding_producer(backbone, cache)
    shutil.rmtree(producer.store.dir, ignore_errors=True)
    start = time.perf_counter()
    rows, failed = produce_files(producer, files, None, progress=False, engine=engine)
    return (len(files) - len(failed)) / (time.perf_counter() - start), rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posters", type=int, default=500)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--images", type=Path, default=POSTERS)
    ap.add_argument("--cpus", type=int, default=cpu_count(), help="CPUs of a local Ray")
    ap.add_argument("--address", help="a running Ray cluster instead of a local one")
    args = ap.parse_args()
    files = sorted(p for p in args.images.glob("*") if p.is_file())[: args.posters]
    if not files:
        raise SystemExit(f"no posters in {args.images}")
    ray = ray_module()
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        cache = Path(tmp)
        backbone_onnx(args.backbone, cache)  # exported once, outside every timing
        local, local_rows = timed_embed(files, args.backbone, cache)

        start = time.perf_counter()
        if args.address:
            ray.init(address=args.address, include_dashboard=False, logging_level="ERROR")
        else:
            ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR",
                     _node_ip_address="127.0.0.1")
        ray.get(ray.remote(lambda: None).remote())
        startup = time.perf_counter() - start
        engine = RayEngine()
        cold, rows = timed_embed(files, args.backbone, cache, engine)
        warm, _ = timed_embed(files, args.backbone, cache, engine)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        ray.shutdown()
    print(f"{len(files)} posters, {args.backbone}, {cpu_count()} CPUs here, Ray: {cpus} CPUs")
    print(f"local:              {local:7.1f} posters/s")
    print(f"Ray, cold workers:  {cold:7.1f} posters/s")
    print(f"Ray, warm workers:  {warm:7.1f} posters/s")
    print(f"Ray start-up (init + first task): {startup:.1f} s")
    print(f"same embeddings as local: {np.array_equal(rows, local_rows)}")
    write_results(Path(__file__).stem, {
        "posters": len(files), "backbone": args.backbone, "CPUs here": cpu_count(),
        "Ray CPUs": cpus, "local posters/s": local, "Ray posters/s, cold workers": cold,
        "Ray posters/s, warm workers": warm, "Ray start-up s": startup,
        "same embeddings as local": bool(np.array_equal(rows, local_rows))})


if __name__ == "__main__":
    main()
