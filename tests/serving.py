"""A served toy bundle for the web app's tests: ``tests/bundles.py``'s real bundle plus a real
comparable-films index whose encoder is a tiny pooling graph (no backbone to export), with
its films' thumbnails."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch.nn.functional as F
import uvicorn
from PIL import Image
from torch import nn

from postergenre.bundle.thumbnails import add_thumbnails
from postergenre.features.canvas import canvas, to_batch
from postergenre.features.onnx_export import INPUT_NAME, export_module
from postergenre.features.runtime import open_session
from postergenre.serve import build_index

from .bundles import build_bundle, poster

CATALOGUE = [  # id, title, year, genres, colour
    ("tt0000001", "Red Night", 1980, ["Horror"], (220, 20, 20)),
    ("tt0000002", "Green Fields", 1995, ["Drama"], (20, 200, 20)),
    ("tt0000003", "Blue Laughs", 2001, ["Comedy"], (20, 20, 220)),
    ("tt0000004", "Purple Rain Again", None, ["Drama", "Horror"], (160, 20, 160)),
    ("tt0000005", "Teal Days", 2010, ["Comedy", "Drama"], (20, 160, 160)),
    ("tt0000006", "Amber", 1962, ["Drama"], (230, 160, 20)),
]


class Pool(nn.Module):
    """Canvas pixels -> the mean colour of a 4 x 2 grid of regions (24 numbers)."""

    def forward(self, pixels):
        return F.adaptive_avg_pool2d(pixels, (4, 2)).flatten(1) / 255


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def catalogue_posters() -> list[np.ndarray]:
    return [poster(colour, seed=i) for i, (*_, colour) in enumerate(CATALOGUE)]


def build_served_bundle(out: Path) -> Path:
    """The toy bundle at ``out``, with an index of ``CATALOGUE`` built by ``build_index``."""
    build_bundle(out)
    encoder = export_module(Pool(), out.parent / f"{out.name}-pool.onnx")
    canvases = [canvas(Image.fromarray(p)) for p in catalogue_posters()]
    emb = open_session(encoder).run(None, {INPUT_NAME: to_batch(canvases)})[0]
    ids, titles, years, genres, _ = zip(*CATALOGUE, strict=True)
    build_index(out, list(ids), list(titles), list(years), list(genres), emb,
                {"pool": encoder}, dims=4, about={"backbones": ["pool"]})
    encoder.unlink()
    files = out.parent / f"{out.name}-posters"
    files.mkdir(exist_ok=True)
    paths = [files / f"{film}.png" for film in ids]
    for path, arr in zip(paths, catalogue_posters(), strict=True):
        path.write_bytes(png(arr))
    paths[-1].write_bytes(b"not a poster")  # a film whose poster does not decode: no thumbnail
    add_thumbnails(out, paths)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
