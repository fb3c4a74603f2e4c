"""OCR of posters: seconds per poster in this process, posters/s through ``poster_texts``.

    python benchmarks/bench_ocr.py [FOLDER] [--posters 40] [--workers 2]

Prints the seconds ``ocr_text`` takes per canvas (decoded beforehand, the engine loaded by a
first untimed call), then posters/s of ``poster_texts`` (hash, decode, OCR, cache write)
into an empty cache in this process and with ``ProcessEngine(workers)``, whose figure
includes starting the worker processes, and of a second call that finds everything cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from results import write_results  # benchmarks/results.py

from postergenre.features.canvas import load_canvas
from postergenre.features.ocr import ocr_text, poster_texts
from postergenre.features.runtime import cpu_count

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def timed_texts(files: list[Path], cache: Path, workers: int) -> tuple[float, list[str]]:
    """(posters/s, texts) of ``poster_texts`` over ``files`` with the cache at ``cache``."""
    start = time.perf_counter()
    texts, _ = poster_texts(files, cache_dir=cache, workers=workers, progress=False)
    return len(files) / (time.perf_counter() - start), texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, nargs="?", default=POSTERS)
    ap.add_argument("--posters", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    files = sorted(p for p in args.images.glob("*") if p.is_file())[: args.posters]
    if not files:
        raise SystemExit(f"no posters in {args.images}")
    canvases = [load_canvas(f) for f in files]
    ocr_text(canvases[0])  # loads the models
    start = time.perf_counter()
    texts = [ocr_text(c) for c in canvases]
    per_poster = (time.perf_counter() - start) / len(canvases)
    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as tmp:
        local, _ = timed_texts(files, Path(tmp) / "local", 1)
        pooled, pooled_texts = timed_texts(files, Path(tmp) / "pool", args.workers)
        cached, _ = timed_texts(files, Path(tmp) / "pool", args.workers)
    print(f"{len(files)} posters from {args.images}, {cpu_count()} CPUs")
    print(f"ocr_text, one process:           {per_poster:7.3f} s/poster")
    print(f"poster_texts, in this process:   {local:7.1f} posters/s")
    print(f"poster_texts, ProcessEngine({args.workers}): {pooled:7.1f} posters/s")
    print(f"poster_texts, all cached:        {cached:7.1f} posters/s")
    print(f"posters with text: {sum(map(bool, texts))} of {len(files)}; "
          f"same texts in the pool: {pooled_texts == texts}")
    write_results(Path(__file__).stem, {
        "posters": len(files), "ocr_text s/poster": per_poster,
        "poster_texts posters/s, in this process": local,
        f"poster_texts posters/s, ProcessEngine({args.workers})": pooled,
        "poster_texts posters/s, all cached": cached,
        "posters with text": sum(map(bool, texts)),
        "same texts in the pool": pooled_texts == texts})


if __name__ == "__main__":
    main()
