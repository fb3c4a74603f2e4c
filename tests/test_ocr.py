"""Poster OCR: rapidocr reads large clear words, rows hold any text within ``MAX_BYTES``,
``poster_texts`` caches per content in this process and in ``ProcessEngine`` workers (whose
errors surface here), and a changed OCR setting reads nothing cached before."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from postergenre.features import ocr
from postergenre.features.engine import ProcessEngine
from postergenre.features.producer import file_keys, produce

WORDS = ["HORROR", "COMEDY", "WESTERN", "DRAMA", "CRIME"]  # 5 posters: more than one batch


def poster(word: str, size: tuple[int, int] = (182, 268)) -> Image.Image:
    """A white poster with ``word`` in large black letters."""
    im = Image.new("RGB", size, "white")
    ImageDraw.Draw(im).text((size[0] // 2, size[1] // 2), word, fill="black",
                            font=ImageFont.load_default(size=36), anchor="mm")
    return im


def poster_files(folder: Path) -> list[Path]:
    """One PNG poster per word, then a file that is not an image."""
    folder.mkdir()
    paths = []
    for word in WORDS:
        paths.append(folder / f"{word.lower()}.png")
        poster(word).save(paths[-1])
    paths.append(folder / "corrupt.jpg")
    paths[-1].write_bytes(b"\xff\xd8 not really a jpeg")
    return paths


def shards(cache: Path) -> list[Path]:
    return sorted(ocr.ocr_producer(cache).store.dir.glob("shard-*.npz"))


def test_ocr_text_reads_a_large_clear_word_quietly(capfd):
    ocr._engine.cache_clear()  # built here, so that its set-up would log here
    assert "horror" in ocr.ocr_text(np.asarray(poster("HORROR"))).lower()
    assert capfd.readouterr().err == ""


def test_blank_poster_has_no_text():
    assert ocr.ocr_text(np.full((268, 182, 3), 255, np.uint8)) == ""
    with pytest.raises(ValueError, match="RGB uint8"):
        ocr.ocr_text(np.zeros((268, 182), np.uint8))


@pytest.mark.parametrize("text, kept", [
    ("", ""),
    ("Night of the Living Dead", "Night of the Living Dead"),
    ("é" * 300, "é" * 256),  # 2-byte characters: 512 bytes fit exactly
    ("日本" * 100, "日本" * 85),  # 3-byte: 170 characters, the 171st would be cut in half
    ("a" + "🎬" * 200, "a" + "🎬" * 127),  # 4-byte after one: 1 + 508 bytes
])
def test_rows_round_trip_and_cut_on_a_character_boundary(text, kept):
    row = ocr.to_row(text)
    assert row.dtype == np.uint8 and row.shape == (ocr.MAX_BYTES,)
    assert ocr.from_row(row) == kept
    assert len(kept.encode()) <= ocr.MAX_BYTES


@pytest.mark.parametrize("workers", [1, 2])
def test_poster_texts_in_order_cached_and_failures(tmp_path, monkeypatch, workers):
    paths = poster_files(tmp_path / "posters")
    cache = tmp_path / "cache"
    texts, failures = ocr.poster_texts(paths, cache_dir=cache, workers=workers, progress=False)
    assert [t.lower() for t in texts[:-1]] == [w.lower() for w in WORDS]
    assert texts[-1] == "" and list(failures) == [paths[-1]]
    assert "not an image" in failures[paths[-1]]
    written = shards(cache)
    assert written

    def no_work(*args):
        raise AssertionError("a cached poster was read again")

    monkeypatch.setattr(ocr, "ocr_text", no_work)
    monkeypatch.setattr(ProcessEngine, "run", no_work)
    again = ocr.poster_texts(paths, cache_dir=cache, workers=workers, progress=False)
    assert again == (texts, failures)
    assert shards(cache) == written


def test_few_missing_posters_are_read_in_this_process(tmp_path, monkeypatch):
    paths = poster_files(tmp_path / "posters")[:2]
    monkeypatch.setattr(ocr, "ocr_text", lambda image: "text")
    monkeypatch.setattr(ProcessEngine, "run", lambda *args: pytest.fail("a pool started"))
    texts, _ = ocr.poster_texts(paths, cache_dir=tmp_path / "cache", workers=2, progress=False)
    assert texts == ["text", "text"]


def test_changed_ocr_setting_reads_nothing_cached_before(tmp_path, monkeypatch):
    paths = poster_files(tmp_path / "posters")[:2]
    calls = []
    monkeypatch.setattr(ocr, "ocr_text", lambda image: calls.append(1) or "text")
    ocr.poster_texts(paths, cache_dir=tmp_path, workers=1, progress=False)
    before = ocr.ocr_version()
    monkeypatch.setitem(ocr.PARAMS, "Det.limit_side_len", 736)
    assert ocr.ocr_version() != before
    ocr.poster_texts(paths, cache_dir=tmp_path, workers=1, progress=False)
    assert len(calls) == 4  # both posters read again
    assert len(list(tmp_path.glob("ocr-text*"))) == 2  # one store per version


def broken(images: list[np.ndarray]) -> np.ndarray:
    raise ValueError("transform failed on purpose")


def test_a_worker_error_is_raised_here(tmp_path):
    paths = poster_files(tmp_path / "posters")[:2]
    producer = dataclasses.replace(ocr.ocr_producer(tmp_path / "cache"), transform=broken)
    keys = file_keys(paths, None, {})
    with pytest.raises(ValueError, match="on purpose"):
        produce(producer, keys, paths, progress=False, engine=ProcessEngine(2))
