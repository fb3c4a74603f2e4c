"""Latency of predicting one poster with its title, year and plot, as a user would call it.

    python benchmarks/bench_predict_one.py runs/fusion/model [--repeats 20]

Prints the bundle load time and, after one warm-up call, the median and worst latency of
``predict_records`` on one record (poster file + title + year + a long plot), on the same
with a 100,000-character plot of varied words, and for a bare poster. Target: under a second
per poster with metadata on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from results import write_results  # benchmarks/results.py

from postergenre.bundle import load_bundle
from postergenre.predict import predict_records

POSTER = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters/tt0114709.webp"
PLOT = ("A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants "
        "him as top toy in a boy's room. ") * 40
HUGE = " ".join(f"{w}{i % 997}" for i, w in enumerate(PLOT.split() * 40))[:100_000]


def latency(bundle, record: dict, repeats: int) -> list[float]:
    list(predict_records(bundle, [record], ["one"]))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        (pred,) = predict_records(bundle, [record], ["one"])
        times.append(time.perf_counter() - start)
        assert pred.error is None, pred.error
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--poster", type=Path, default=POSTER)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    start = time.perf_counter()
    bundle = load_bundle(args.model)
    load_s = time.perf_counter() - start
    print(f"bundle load: {load_s:.2f} s ({args.model})")
    rows = []
    full = {"poster": args.poster, "title": "Toy Story", "year": 1995,
            "plot": PLOT}
    for name, record in (("poster + title + year + plot", full),
                         ("... with a 100k-character plot", {**full, "plot": HUGE}),
                         ("poster only", {"poster": args.poster})):
        t = latency(bundle, record, args.repeats)
        print(f"{name:30s} median {statistics.median(t) * 1000:7.1f} ms   "
              f"max {max(t) * 1000:7.1f} ms   (target < 1000 ms)")
        rows.append({"record": name, "median ms": statistics.median(t) * 1000,
                     "max ms": max(t) * 1000})
    write_results(Path(__file__).stem, {"model": str(args.model), "bundle load s": load_s,
                                        "repeats": args.repeats, "latency": rows})


if __name__ == "__main__":
    main()
