"""OCR of posters: seconds per poster in this process, posters/s through ``poster_texts``.

    python benchmarks/bench_ocr.py [FOLDER] [--posters 40] [--workers 2] [--sizes 272,192,128]

Prints the seconds ``ocr_text`` takes per canvas (decoded beforehand, the engine loaded by a
first untimed call), then posters/s of ``poster_texts`` (hash, decode, OCR, cache write)
into an empty cache in this process and with ``ProcessEngine(workers)``, whose figure
includes starting the worker processes, and of a second call that finds everything cached.
Then, per detector size (``Det.limit_side_len``; the shipped one is ``PARAMS``'), the
seconds per poster of the detector alone and of detection and recognition, how many posters
the detector finds text on, and how many of the shipped size's words each size reads.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from results import write_results  # benchmarks/results.py

from postergenre.features.canvas import load_canvas
from postergenre.features.ocr import PARAMS, ocr_text, poster_texts
from postergenre.features.runtime import cpu_count
from postergenre.features.text import clean

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def timed_texts(files: list[Path], cache: Path, workers: int) -> tuple[float, list[str]]:
    """(posters/s, texts) of ``poster_texts`` over ``files`` with the cache at ``cache``."""
    start = time.perf_counter()
    texts, _ = poster_texts(files, cache_dir=cache, workers=workers, progress=False)
    return len(files) / (time.perf_counter() - start), texts


def _boxes(boxes: np.ndarray | None) -> int:
    return 0 if boxes is None else len(boxes)


def by_size(canvases: list, sizes: list[int], shipped: list[str]) -> list[dict]:
    """One row per detector size: seconds per poster (detector; detector and recogniser),
    posters with text, and the share of the shipped size's words it reads too."""
    from rapidocr import RapidOCR

    bgr = [np.ascontiguousarray(c[..., ::-1]) for c in canvases]  # rapidocr reads BGR
    want = [set(t.split()) for t in shipped]
    rows = []
    for size in sizes:
        engine = RapidOCR(params={**PARAMS, "Det.limit_side_len": size})
        engine(bgr[0])  # loads the models
        start = time.perf_counter()
        found = sum(_boxes(engine(b, use_rec=False).boxes) > 0 for b in bgr)
        detect = (time.perf_counter() - start) / len(bgr)
        start = time.perf_counter()
        texts = [clean(" ".join(engine(b, use_rec=True).txts or ())) for b in bgr]
        full = (time.perf_counter() - start) / len(bgr)
        kept = sum(len(w & set(t.split())) for w, t in zip(want, texts, strict=True))
        share = kept / max(sum(map(len, want)), 1)
        rows.append({"detector size": size, "detector s/poster": round(detect, 4),
                     "OCR s/poster": round(full, 4), "posters with text": found,
                     "shipped size's words read": round(share, 3)})
        print(f"size {size:4d}: detector {detect:.3f} s, OCR {full:.3f} s/poster, text on "
              f"{found}/{len(bgr)}, {share:.0%} of the shipped size's words")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", type=Path, nargs="?", default=POSTERS)
    ap.add_argument("--posters", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sizes", default="272,224,192,160,128",
                    help="detector sizes to compare, comma-separated")
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
    sizes = by_size(canvases, [int(v) for v in args.sizes.split(",")], texts)
    write_results(Path(__file__).stem, {
        "posters": len(files), "ocr_text s/poster": per_poster,
        "poster_texts posters/s, in this process": local,
        f"poster_texts posters/s, ProcessEngine({args.workers})": pooled,
        "poster_texts posters/s, all cached": cached,
        "posters with text": sum(map(bool, texts)),
        "same texts in the pool": pooled_texts == texts, "by detector size": sizes})


if __name__ == "__main__":
    main()
