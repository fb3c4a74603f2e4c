"""Reading poster files safely: hashing, decoding any mode to RGB, refusing bad files."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MAX_PIXELS = 40_000_000  # a poster bigger than this is treated as a decompression bomb


class ImageError(Exception):
    """A file that is not a usable image; the message says why in a few words."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode image bytes to an RGB image, or raise ``ImageError`` with the reason.

    Alpha is composited on white; CMYK, palette and greyscale images are converted; EXIF
    orientation is applied.
    """
    if not data:
        raise ImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(f"declared size {w}x{h} exceeds {max_pixels:,} pixels")
            im.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"decompression bomb: {e}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"cannot decode: {e}") from None
    return to_rgb(im)


def to_rgb(im: Image.Image) -> Image.Image:
    im = ImageOps.exif_transpose(im)
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        return background
    if im.mode != "RGB":
        im = im.convert("RGB")
    return im


def load(path: str | Path) -> Image.Image:
    """Read and decode one file; ``ImageError`` for unreadable or bad files."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ImageError(f"unreadable: {e.strerror or e}") from None
    return decode(data)


def probe(path: str | Path) -> tuple[str | None, str | None]:
    """(content hash, error) for one file: the hash if readable, the error if not decodable."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    digest = content_hash(data)
    try:
        decode(data)
    except ImageError as e:
        return digest, str(e)
    return digest, None
