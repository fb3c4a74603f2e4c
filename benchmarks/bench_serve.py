"""Load benchmark of ``postergenre serve``: a loopback client against a server process.

    python benchmarks/bench_serve.py MODEL [--n 64] [--requests 200] [--seconds 30]
                                           [--concurrency 1,4,16] [--toy]

``--toy`` builds the test suite's served toy bundle (``tests/serving.py``: mean-colour model and
comparable-films index) at MODEL first, for a machine with no trained run.

First the ``predict`` path's batch throughput on the same posters (``predict_files``, batch 8,
after loading, in this process). Then a ``postergenre serve`` process on a free loopback port;
at each concurrency C, C clients send single-poster ``POST /v1/predict`` requests, one after
another, until ``--requests`` are answered or ``--seconds`` pass. Printed per level: answered
requests by status, latency p50/p95/p99, posters/s, and the server's peak resident memory
(VmHWM) so far; then whether every request got 200 or 503 and the throughput ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
from results import write_results  # benchmarks/results.py

from postergenre.bundle import load_bundle
from postergenre.predict import predict_files

POSTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movie-posters" / "posters"


def baseline(model: Path, paths: list[Path], batch_size: int = 8) -> float:
    """Posters per second of ``predict_files`` (what ``postergenre predict`` runs)."""
    bundle = load_bundle(model)
    list(predict_files(bundle, paths[:batch_size], batch_size))  # warm up
    start = time.perf_counter()
    n = sum(p.error is None for p in predict_files(bundle, paths, batch_size))
    return n / (time.perf_counter() - start)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(url: str, posters: list[tuple[str, bytes]], concurrency: int, requests: int,
               seconds: float) -> tuple[list[float], Counter, float]:
    """(latencies of 200s, status counts, wall seconds) of one concurrency level."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    sent = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def worker(k: int) -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() < deadline:
                name, data = posters[(sent + k) % len(posters)]
                sent += 1
                start = time.perf_counter()
                try:
                    r = await client.post("/v1/predict", files=[("files", (name, data))])
                    statuses[r.status_code] += 1
                    if r.status_code == 200:
                        latencies.append(time.perf_counter() - start)
                except httpx.HTTPError as e:
                    statuses[type(e).__name__] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return latencies, statuses, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, help="bundle folder")
    ap.add_argument("--posters", type=Path, default=POSTERS)
    ap.add_argument("--n", type=int, default=64, help="distinct posters used")
    ap.add_argument("--requests", type=int, default=200, help="requests per level (at most)")
    ap.add_argument("--seconds", type=float, default=30.0, help="time per level (at most)")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--json", action="store_true", help="also print the results as JSON")
    ap.add_argument("--toy", action="store_true", help="build the tests' toy bundle at MODEL")
    args = ap.parse_args()
    if args.toy:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.serving import build_served_bundle

        shutil.rmtree(args.model, ignore_errors=True)
        args.model.parent.mkdir(parents=True, exist_ok=True)
        build_served_bundle(args.model)

    paths = sorted(args.posters.glob("*.webp"))[: args.n]
    if not paths:
        raise SystemExit(f"{args.posters}: no posters")
    posters = [(p.name, p.read_bytes()) for p in paths]
    base = baseline(args.model, paths)
    print(f"predict_files, batch 8: {base:.1f} posters/s ({len(paths)} posters)")

    port = free_port()
    command = Path(sys.executable).parent / "postergenre"
    server = subprocess.Popen([str(command), "serve", str(args.model), "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    results = {"baseline_posters_s": base, "levels": []}
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(load(url, posters, 1, 4, 60))  # warm up
        print(f"{'conc':>4} {'answered':>24} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'posters/s':>10} {'peak MB':>8}")
        for c in (int(x) for x in args.concurrency.split(",")):
            lat, statuses, wall = asyncio.run(load(url, posters, c, args.requests, args.seconds))
            p50, p95, p99 = (np.percentile(lat, q) * 1000 if lat else float("nan")
                             for q in (50, 95, 99))
            rate, peak = len(lat) / wall, peak_rss_mb(server.pid)
            answered = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items(), key=str))
            print(f"{c:>4} {answered:>24} {p50:>8.0f} {p95:>8.0f} {p99:>8.0f} {rate:>10.1f} "
                  f"{peak:>8.0f}", flush=True)
            results["levels"].append({"concurrency": c, "statuses": dict(statuses),
                                      "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
                                      "posters_s": rate, "peak_rss_mb": peak})
    finally:
        server.terminate()
        server.wait(30)
    last = results["levels"][-1]
    only_ok = all(set(lv["statuses"]) <= {200, 503} for lv in results["levels"])
    print(f"every request answered 200 or 503: {only_ok}; at concurrency {last['concurrency']}: "
          f"{last['posters_s'] / base:.0%} of predict's throughput")
    if args.json:
        print(json.dumps(results))
    write_results(Path(__file__).stem, {
        "model": "tests' toy bundle" if args.toy else str(args.model), "posters": len(paths),
        "predict_files posters/s, batch 8": base,
        "every request answered 200 or 503": only_ok,
        "levels": [{**{k: v for k, v in lv.items() if k != "statuses"},
                    "answered": " ".join(f"{k}: {v}" for k, v in
                                         sorted(lv["statuses"].items(), key=str))}
                   for lv in results["levels"]]})


if __name__ == "__main__":
    main()
