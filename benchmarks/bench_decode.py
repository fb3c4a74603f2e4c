"""Per-poster cost of reading, decoding and making the canvas, for WebP and large JPEGs.

    python benchmarks/bench_decode.py [--n 200] [--jpeg-side 3000]

For the shared posters (182x268 WebP) and for large JPEGs made from them (the long side
``--jpeg-side`` pixels, quality 90, as a studio's print-resolution file): milliseconds per
poster for the decode and for the canvas stretch, with a full decode and with Pillow's JPEG
draft mode (what ``features.canvas`` does), the canvases' difference, and canvases/s of a
thread pool of 1, 2 and 4 threads (``predict`` prepares posters in 2).
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from results import write_results  # benchmarks/results.py

from postergenre.data.images import decode, read_file
from postergenre.features.canvas import DECODE_AT_LEAST, canvas, decode_canvas

POSTERS = Path(__file__).resolve().parents[2] / "shared/data/movie-posters/posters"


def per_item_ms(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return 1000 * (time.perf_counter() - start) / len(items)


def large_jpeg(data: bytes, side: int) -> bytes:
    im = decode(data)
    scale = side / max(im.size)
    big = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def report(name: str, datas: list[bytes]) -> dict:
    """Print the figures of one kind of file and return them as a row."""
    full = [decode(d) for d in datas]
    drafted = [decode(d, at_least=DECODE_AT_LEAST) for d in datas]
    kib = float(np.mean([len(d) for d in datas]) / 1024)
    print(f"\n{name}: {len(datas)} files, {full[0].width}x{full[0].height}, {kib:.0f} KiB each")
    row = {"files": name, "n": len(datas), "size": f"{full[0].width}x{full[0].height}",
           "KiB": kib, "decode ms": per_item_ms(decode, datas),
           "canvas ms": per_item_ms(canvas, full)}
    print(f"  decode, full            {row['decode ms']:7.2f} ms")
    print(f"  canvas from full decode {row['canvas ms']:7.2f} ms")
    if drafted[0].size != full[0].size:
        row["draft decode ms"] = per_item_ms(lambda d: decode(d, at_least=DECODE_AT_LEAST), datas)
        row["draft size"] = f"{drafted[0].width}x{drafted[0].height}"
        row["canvas from draft ms"] = per_item_ms(canvas, drafted)
        print(f"  decode, draft mode      {row['draft decode ms']:7.2f} ms"
              f"  (decoded at {row['draft size']})")
        print(f"  canvas from draft       {row['canvas from draft ms']:7.2f} ms")
        diff = np.abs(np.stack([canvas(a) for a in full]).astype(int)
                      - np.stack([canvas(b) for b in drafted]))
        row["draft vs full, mean levels"] = float(diff.mean())
        row["draft vs full, max levels"] = int(diff.max())
        print(f"  canvas difference, draft vs full: mean {diff.mean():.2f}, 99th percentile "
              f"{np.percentile(diff, 99):.0f}, max {diff.max()} levels of 255")
    for threads in (1, 2, 4):
        with ThreadPoolExecutor(threads) as pool:
            start = time.perf_counter()
            list(pool.map(decode_canvas, datas))
            rate = len(datas) / (time.perf_counter() - start)
        row[f"posters/s, {threads} thread(s)"] = rate
        print(f"  decode_canvas in {threads} thread(s): {rate:7.1f} posters/s")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posters", type=Path, default=POSTERS)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--jpeg-side", type=int, default=3000)
    args = ap.parse_args()
    datas = [read_file(p) for p in sorted(args.posters.glob("*.webp"))[: args.n]]
    rows = [report("shared WebP posters", datas),
            report(f"large JPEGs ({args.jpeg_side} px long side)",
                   [large_jpeg(d, args.jpeg_side) for d in datas[: max(10, args.n // 10)]])]
    write_results(Path(__file__).stem, {"decode": rows})


if __name__ == "__main__":
    main()
