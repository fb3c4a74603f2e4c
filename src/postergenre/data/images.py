"""Reading poster files safely: hashing, decoding any mode to RGB, refusing bad files."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError


def _readable_suffixes() -> frozenset[str]:
    """Every file suffix Pillow registers for a format it decodes (AVIF, JPEG 2000, ...; not
    its stub formats, which only identify a file)."""

    def decodes(fmt: str) -> bool:
        factory = Image.OPEN[fmt][0]
        return not (isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile))

    return frozenset(suffix for suffix, fmt in Image.registered_extensions().items()
                     if fmt in Image.OPEN and decodes(fmt))


IMAGE_SUFFIXES = _readable_suffixes()  # what a folder scan takes for a poster
MAX_PIXELS = 40_000_000  # a poster bigger than this is treated as a decompression bomb
MAX_BYTES = 64 * 1024 * 1024  # a poster file bigger than this is refused before it is read
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "PA"})


class ImageError(Exception):
    """A file that is not a usable image; the message says why in a few words."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, max_pixels: int = MAX_PIXELS,
           at_least: tuple[int, int] | None = None) -> Image.Image:
    """Decode image bytes to RGB with ``to_rgb``; ``ImageError`` with the reason if unusable.
    With ``at_least`` (w, h), a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that
    still covers it (Pillow's draft mode), much faster for a print-size poster
    (``benchmarks/bench_decode.py``)."""
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(f"declared size {w}x{h} exceeds {max_pixels:,} pixels")
            if at_least is not None and im.format == "JPEG":
                im.draft("RGB", at_least)
            im.load()
            return to_rgb(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"decompression bomb: {e}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"cannot decode: {e}") from None


def to_rgb(im: Image.Image) -> Image.Image:
    """The picture a person sees, as 8-bit RGB.

    EXIF orientation is applied. Transparent pixels (alpha modes, palette or greyscale/RGB with a
    transparent colour) are laid on white. 16-bit greyscale (``I;16*``) is scaled by its full
    range (65535 → 255). 32-bit ``I`` and float ``F`` pixels carry no declared range, so it is
    read from the values: 0..255 stay, up to 65535 are scaled as 16-bit, and for ``F`` only,
    0..1 is scaled by 255; negative, larger or non-finite values raise ``ImageError``. Other
    modes (1, L, CMYK, YCbCr; 16-bit RGB(A), which Pillow opens as 8-bit) use Pillow's conversion.
    """
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        im = _numeric_to_8bit(im)
    if im.mode == "P" or (im.mode in ("L", "RGB") and "transparency" in im.info):
        im = im.convert("RGBA")
    if im.mode in _ALPHA_MODES:
        im = im.convert("RGBA")
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im if im.mode == "RGB" else im.convert("RGB")


def _numeric_to_8bit(im: Image.Image) -> Image.Image:
    """An ``I;16*``, ``I`` or ``F`` image as ``L`` (``LA`` if it has a transparent value)."""
    values = np.asarray(im)
    if im.mode.startswith("I;16"):
        top = 65535
    else:
        if not np.isfinite(values).all():
            raise ImageError(f"{im.mode} image with non-finite pixel values")
        low, high = values.min(), values.max()
        if low < 0 or high > 65535:
            raise ImageError(f"{im.mode} pixel values {low}..{high}: no known brightness range")
        top = 1 if im.mode == "F" and high <= 1 else 255 if high <= 255 else 65535
    scaled = np.rint(values.astype(np.float32) * np.float32(255 / top)).astype(np.uint8)
    out = Image.fromarray(scaled)
    transparent = im.info.get("transparency")
    if isinstance(transparent, (int, float)):
        alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
        out = Image.merge("LA", (out, alpha))
    return out


def read_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; ``OSError`` if unreadable,
    ``ImageError`` for anything else (a folder, a FIFO, a device, a file too large), decided
    before reading, so ``/dev/zero`` or a pipe never hangs or fills memory."""
    with open(path, "rb", opener=_open_nonblocking) as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise ImageError(f"file of {info.st_size / 2**20:,.0f} MB exceeds the "
                             f"{max_bytes / 2**20:g} MB limit")
        data = f.read(max_bytes + 1)  # bounded even if the file grows meanwhile
    if len(data) > max_bytes:
        raise ImageError(f"file grew past the {max_bytes / 2**20:g} MB limit while read")
    return data


def _open_nonblocking(path: str, flags: int) -> int:
    """``open`` that returns at once on a FIFO without a writer (checked, then refused)."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def load(path: str | Path, at_least: tuple[int, int] | None = None) -> Image.Image:
    """Read and decode one file (``at_least``: as in ``decode``); ``ImageError`` for
    unreadable or bad files."""
    return decode(_read(path), at_least=at_least)


def _read(path: str | Path) -> bytes:
    try:
        return read_file(path)
    except IsADirectoryError:
        raise ImageError("not a regular file (a folder)") from None
    except OSError as e:
        raise ImageError(f"unreadable: {e.strerror or e}") from None


def probe(path: str | Path) -> tuple[str | None, str | None]:
    """(content hash, error) for one file: the hash if readable, the error if not decodable."""
    try:
        data = _read(path)
    except ImageError as e:
        return None, str(e)
    digest = content_hash(data)
    try:
        decode(data)
    except ImageError as e:
        return digest, str(e)
    return digest, None
