"""Every Pillow mode decodes to the picture a person sees: the 8-bit RGB copy, within ±2.

Each case builds a synthetic gradient with numpy, stores it in the mode under test (as a file
in ``tmp_path`` where Pillow can write that mode, else in memory) and compares the decoded
pixels with the 8-bit RGB version of the same picture.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from postergenre.data import images

H, W = 24, 64
GREY = np.linspace(0, 255, H * W).round().reshape(H, W).astype(np.uint8)
RGB = np.stack([GREY, GREY[::-1, ::-1], np.roll(GREY, W // 2, axis=1)], axis=-1)
GREY16 = np.linspace(0, 65535, H * W).round().reshape(H, W).astype(np.uint16)
GREY16_AS_8 = np.rint(GREY16 / 257).astype(np.uint8)  # what a 16→8 bit conversion gives
ALPHA = np.tile(np.linspace(0, 255, W).round().astype(np.uint8), (H, 1))


def grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=-1)


def on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(np.float64) / 255
    return np.rint(rgb * a + 255 * (1 - a)).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(arr: np.ndarray, color_type: int, extra: bytes = b"") -> bytes:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB)."""
    h, w = arr.shape[:2]
    rows = b"".join(b"\0" + arr[y].astype(">u2").tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def _palette_with_transparency() -> tuple[Image.Image, np.ndarray]:
    im = Image.fromarray(RGB).quantize(64)
    im.info["transparency"] = 0
    shown = np.asarray(im.convert("RGB")).copy()
    shown[np.asarray(im) == 0] = 255
    return im, shown


def _pa() -> tuple[Image.Image, np.ndarray]:
    p = Image.fromarray(RGB).quantize(64)
    pa = p.convert("PA")
    pa.putalpha(Image.fromarray(ALPHA))
    return pa, on_white(np.asarray(p.convert("RGB")), ALPHA)


def _with_transparent_colour(mode: str) -> tuple[Image.Image, np.ndarray]:
    im = Image.fromarray(GREY if mode == "L" else RGB)
    key = 0 if mode == "L" else tuple(int(v) for v in RGB[0, 0])
    im.info["transparency"] = key
    shown = grey_rgb(GREY) if mode == "L" else RGB.copy()
    hidden = (GREY == 0) if mode == "L" else (RGB == RGB[0, 0]).all(axis=-1)
    shown[hidden] = 255
    return im, shown


def _ycbcr() -> tuple[Image.Image, np.ndarray]:
    im = Image.fromarray(RGB).convert("YCbCr")
    y, cb, cr = np.moveaxis(np.asarray(im, dtype=np.float64), -1, 0)
    cb, cr = cb - 128, cr - 128  # JFIF's YCbCr → RGB, in floating point
    rgb = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], -1)
    return im, np.rint(rgb).clip(0, 255).astype(np.uint8)


# name → (file suffix, or None to test in memory; builder → (image, expected RGB))
CASES = {
    "RGB": (".png", lambda: (Image.fromarray(RGB), RGB)),
    "L": (".png", lambda: (Image.fromarray(GREY), grey_rgb(GREY))),
    "1": (".png", lambda: (Image.fromarray(GREY > 127), grey_rgb(np.where(GREY > 127, 255, 0)))),
    "I;16 png": (".png", lambda: (Image.fromarray(GREY16), grey_rgb(GREY16_AS_8))),
    "I;16 tiff": (".tif", lambda: (Image.fromarray(GREY16), grey_rgb(GREY16_AS_8))),
    "I;16B tiff": (
        ".tif",
        lambda: (
            Image.frombytes("I;16B", (W, H), GREY16.astype(">u2").tobytes()),
            grey_rgb(GREY16_AS_8),
        ),
    ),
    "I;16L": (
        None,
        lambda: (
            Image.frombytes("I;16L", (W, H), GREY16.astype("<u2").tobytes()),
            grey_rgb(GREY16_AS_8),
        ),
    ),
    "I 16-bit range": (
        ".tif",
        lambda: (Image.fromarray(GREY16.astype(np.int32)), grey_rgb(GREY16_AS_8)),
    ),
    "I 8-bit range": (".tif", lambda: (Image.fromarray(GREY.astype(np.int32)), grey_rgb(GREY))),
    "F 8-bit range": (".tif", lambda: (Image.fromarray(GREY.astype(np.float32)), grey_rgb(GREY))),
    "F 0..1": (
        ".tif",
        lambda: (Image.fromarray(GREY.astype(np.float32) / 255), grey_rgb(GREY)),
    ),
    "F 16-bit range": (
        ".tif",
        lambda: (Image.fromarray(GREY16.astype(np.float32)), grey_rgb(GREY16_AS_8)),
    ),
    "LA": (
        ".png",
        lambda: (
            Image.merge("LA", (Image.fromarray(GREY), Image.fromarray(ALPHA))),
            on_white(grey_rgb(GREY), ALPHA),
        ),
    ),
    "PA": (".tif", _pa),
    "P with transparency": (".png", _palette_with_transparency),
    "L with transparency": (".png", lambda: _with_transparent_colour("L")),
    "RGB with transparency": (".png", lambda: _with_transparent_colour("RGB")),
    "RGBA": (
        ".png",
        lambda: (Image.fromarray(np.dstack([RGB, ALPHA])), on_white(RGB, ALPHA)),
    ),
    "CMYK": (".tif", lambda: (Image.fromarray(RGB).convert("CMYK"), RGB)),
    "YCbCr": (".tif", _ycbcr),
}


@pytest.mark.parametrize("name", list(CASES))
def test_mode_decodes_like_8bit_rgb(tmp_path, name):
    suffix, build = CASES[name]
    im, expected = build()
    mode = im.mode
    if suffix is None:
        got = images.to_rgb(im)
    else:
        path = tmp_path / f"poster{suffix}"
        im.save(path)  # PNG keeps ``info["transparency"]``
        with Image.open(path) as stored:
            assert stored.mode == mode  # the file really holds the mode under test
        got = images.load(path)
    assert got.mode == "RGB" and got.size == (W, H)
    diff = np.abs(np.asarray(got, dtype=int) - expected.astype(int))
    assert diff.max() <= 2, f"{name}: off by up to {diff.max()} levels"


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("16-bit RGB", png16(RGB.astype(np.uint16) * 257, 2), RGB),
        ("16-bit grey", png16(GREY16, 0), grey_rgb(GREY16_AS_8)),
        (
            "16-bit grey + alpha",
            png16(np.dstack([GREY16, ALPHA.astype(np.uint16) * 257]), 4),
            on_white(grey_rgb(GREY16_AS_8), ALPHA),
        ),
        (
            "16-bit grey, transparent value",
            png16(GREY16, 0, png_chunk(b"tRNS", struct.pack(">H", int(GREY16[0, 0])))),
            np.where((GREY16 == GREY16[0, 0])[..., None], 255, grey_rgb(GREY16_AS_8)),
        ),
    ],
)
def test_16bit_png_files(name, data, expected):
    """PNGs Pillow cannot write: 16 bits per channel, whatever mode Pillow opens them in."""
    got = np.asarray(images.decode(data), dtype=int)
    assert np.abs(got - expected).max() <= 2, name


@pytest.mark.parametrize("mode", ["RGB", "I;16"])
def test_exif_orientation_is_applied(tmp_path, mode):
    """A file stored on its side with EXIF orientation 6 decodes upright."""
    upright = Image.fromarray(RGB if mode == "RGB" else GREY16)
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    stored.save(tmp_path / "p.png", exif=exif)
    got = images.load(tmp_path / "p.png")
    expected = RGB if mode == "RGB" else grey_rgb(GREY16_AS_8)
    assert got.size == (W, H) and np.abs(np.asarray(got, dtype=int) - expected).max() <= 1


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.full((4, 4), 70000, dtype=np.int32), "no known brightness range"),
        (np.full((4, 4), -3, dtype=np.int32), "no known brightness range"),
        (np.full((4, 4), np.nan, dtype=np.float32), "non-finite"),
    ],
)
def test_pixels_without_a_known_range_are_refused(tmp_path, array, reason):
    Image.fromarray(array).save(tmp_path / "p.tif")
    digest, error = images.probe(tmp_path / "p.tif")
    assert digest and error and reason in error
