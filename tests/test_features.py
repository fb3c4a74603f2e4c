"""Image backbones: registry, in-graph preprocessing, ONNX export, cached extraction."""

from __future__ import annotations

import itertools
import math
import shutil
import time
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from postergenre.data.images import content_hash
from postergenre.features import (
    CANVAS_HW,
    BackboneFeatures,
    ExportError,
    backbone_onnx,
    canvas,
    create_trunk,
    embed,
    embedding_store,
    export_module,
    get_spec,
    list_backbones,
    load_canvas,
    open_session,
    throughput,
    to_batch,
)
from postergenre.features import embeddings as extract_mod
from postergenre.features import runtime as runtime_mod
from postergenre.features.trunk import stage_ends

FAST = "mobilenet_v2"  # the cheapest backbone, for the export and extraction tests
# ImageNet classes a photo of the Summer Palace may plausibly get
BUILDINGS = {442, 449, 483, 497, 538, 663, 698, 832, 975}  # bell cote, boathouse, castle, ...


def poster(path, seed, size=(182, 268), mode="RGB"):
    """A smooth random picture with a few blocks, so backbones see some structure."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    arr = np.stack([np.sin(6 * yy + c * rng.uniform(1, 5)) + xx * c for c in range(3)], -1)
    for _ in range(4):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 20)
        arr[y : y + 20, x : x + 20] = rng.uniform(-1, 2, 3)
    im = Image.fromarray(np.clip((arr + 1) * 80, 0, 255).astype(np.uint8), "RGB").convert(mode)
    im.save(path)
    return path


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    """A cache dir holding the exported FAST graph (exported once for this file)."""
    root = tmp_path_factory.mktemp("onnx-cache")
    backbone_onnx(FAST, root)
    return root


@pytest.fixture
def cache(tmp_path, onnx_dir):
    root = tmp_path / "cache"
    shutil.copytree(onnx_dir / "onnx", root / "onnx")
    return root


def test_canvas_contract(tmp_path):
    im = Image.new("RGBA", (400, 500), (10, 20, 30, 255))
    c = canvas(im)
    assert c.shape == (*CANVAS_HW, 3) and c.dtype == np.uint8
    assert c[0, 0].tolist() == [10, 20, 30]
    x = to_batch([c, load_canvas(poster(tmp_path / "a.webp", 0, size=(91, 134)))])
    assert x.shape == (2, 3, *CANVAS_HW) and x.dtype == np.float32
    with pytest.raises(ValueError):
        to_batch(np.zeros((1, 224, 224, 3), np.uint8))


@pytest.mark.parametrize("name", list_backbones())
def test_registry_entry_builds_loads_weights_and_recognises_a_photo(name):
    spec = get_spec(name)
    assert spec.version.startswith(f"{spec.revision}-")
    assert spec.to_dict()["input_hw"] == list(spec.input_hw)
    trunk = create_trunk(name).eval()  # strict=True state-dict load inside
    photo = Image.fromarray(load_sample_image("china.jpg"))  # 640x427, the Summer Palace
    side = min(photo.size)
    left = (photo.width - side) // 2
    photo = photo.crop((left, 0, left + side, side)).resize((spec.resolution,) * 2)
    x = torch.from_numpy(np.asarray(photo, np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - torch.tensor(spec.mean).view(3, 1, 1)) / torch.tensor(spec.std).view(3, 1, 1)
    with torch.no_grad():
        fmap = trunk.forward_features(x)
        probs = trunk.forward_head(fmap.mean(dim=(2, 3))).softmax(-1)[0]
    assert fmap.shape[1] == spec.feature_dim
    top5 = set(probs.topk(5).indices.tolist())
    assert top5 & BUILDINGS, f"{name}: top-5 ImageNet classes {top5} are no building"
    assert probs.max() > 0.15


def test_stage_ends_are_the_last_block_of_each_width_but_the_first():
    assert stage_ends([16, 24, 24, 40, 40, 80]) == [2, 4, 5]
    assert stage_ends([16]) == []


@pytest.mark.parametrize("name", list_backbones())
def test_embedding_is_the_map_average_then_each_stage_average(name):
    spec = get_spec(name)
    model = BackboneFeatures(name)
    x = torch.rand(2, 3, *CANVAS_HW, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        emb = model(x)
        fmap, stages = model.trunk.forward_stages(model.preprocess(x))
        plain = model.trunk.forward_features(model.preprocess(x))
    assert emb.shape == (2, spec.embedding_dim) and spec.embedding_dim > spec.feature_dim
    assert [s.shape[1] for s in stages] == list(spec.stage_dims)
    torch.testing.assert_close(fmap, plain)
    torch.testing.assert_close(emb[:, :spec.feature_dim], plain.mean(dim=(2, 3)))
    torch.testing.assert_close(emb[:, -spec.stage_dims[-1]:], stages[-1].mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="stage_dims"):
        BackboneFeatures(spec.replace(stage_dims=(1, 2)))


def test_features_are_not_degenerate(tmp_path):
    model = BackboneFeatures(FAST)
    x = torch.from_numpy(
        to_batch([load_canvas(poster(tmp_path / f"{i}.png", i)) for i in range(3)])
    )
    with torch.no_grad():
        emb = model(x)
    assert emb.shape == (3, get_spec(FAST).embedding_dim)
    assert torch.isfinite(emb).all() and (emb.std(dim=1) > 0.05).all()
    assert (emb[0] - emb[1]).abs().max() > 0.1
    with pytest.raises(ValueError, match="canvas"):
        model(torch.zeros(1, 3, 224, 224))


def _bilinear_half_pixel(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Reference resize of an HxWxC array (torch/ONNX 'linear', half-pixel, no antialias)."""

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(img.shape[0], out_h)
    x0, x1, wx = axis(img.shape[1], out_w)
    rows = img[y0] * (1 - wy)[:, None, None] + img[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


@pytest.mark.parametrize("geometry", ["poster", "square"])
def test_in_graph_preprocessing_equals_hand_reference(tmp_path, geometry):
    spec = get_spec(FAST).replace(geometry=geometry)
    model = BackboneFeatures(spec)
    pixels = load_canvas(poster(tmp_path / "p.png", 3)).astype(np.float64)
    ref = _bilinear_half_pixel(pixels, *spec.input_hw) / 255
    ref = (ref - np.array(spec.mean)) / np.array(spec.std)  # HWC
    x = torch.from_numpy(to_batch([pixels.astype(np.uint8)]))
    with torch.no_grad():
        got = model.preprocess(x)[0].permute(1, 2, 0).numpy()
        emb = model(x)[0]
        ref_x = torch.tensor(ref, dtype=torch.float32).permute(2, 0, 1)[None]
        ref_emb = model.trunk.forward_features(ref_x).mean(dim=(2, 3))[0]
    assert got.shape == (*spec.input_hw, 3)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    np.testing.assert_allclose(emb[:spec.feature_dim].numpy(), ref_emb.numpy(), atol=1e-3)


def test_onnx_matches_torch_with_dynamic_batch(onnx_dir, tmp_path):
    spec = get_spec(FAST)
    path = backbone_onnx(FAST, onnx_dir)  # already exported: no second export
    assert path.name == f"{FAST}@{spec.version}.onnx"
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert spec.version in meta["backbone"]
    session = open_session(path)
    model = BackboneFeatures(FAST)
    for n in (1, 4):
        x = torch.rand(n, 3, *CANVAS_HW, generator=torch.Generator().manual_seed(n)) * 255
        got = session.run(None, {"pixels": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x).numpy()
        assert got.shape == (n, spec.embedding_dim)
        np.testing.assert_allclose(got, ref, atol=2e-3 * max(1, np.abs(ref).max()))
    t0 = time.perf_counter()
    rate = throughput(path, batch_size=2, seconds=0.05)
    wall = time.perf_counter() - t0
    # at least one batch of 2 ran in at most the call's wall time
    assert math.isfinite(rate) and rate >= 2 / wall


class MeanPixel(torch.nn.Module):
    def forward(self, pixels):
        return pixels.mean(dim=(2, 3))


def test_throughput_is_images_over_elapsed_time(tmp_path, monkeypatch):
    """On a clock that ticks 0.25 s per reading, ``seconds=1`` takes four timed batches."""
    path = export_module(MeanPixel(), tmp_path / "tiny.onnx")
    ticks = itertools.count()
    monkeypatch.setattr(runtime_mod, "time", SimpleNamespace(
        perf_counter=lambda: next(ticks) * 0.25))
    sessions = []

    def counting(model, threads):
        sessions.append(CountingSession(open_session(model, threads)))
        return sessions[-1]

    monkeypatch.setattr(runtime_mod, "open_session", counting)
    rate = throughput(path, batch_size=3, seconds=1.0, warmup=2)
    assert sessions[0].rows == 3 * (2 + 4)  # warm-up batches, then timed batches of 3
    assert rate == pytest.approx(3 * 4 / 1.0)  # 12 images in 1 s: images, not batches
    ticks = itertools.count()
    assert throughput(path, batch_size=5, seconds=1.0, warmup=0) == pytest.approx(20.0)


def test_export_refuses_a_graph_that_differs_from_torch(tmp_path):
    class TraceDependent(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)) * (1.0 if torch.jit.is_tracing() else 2.0)

    target = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="differs"):
        export_module(TraceDependent(), target)
    assert not target.exists() and not list(tmp_path.iterdir())


class CountingSession:
    def __init__(self, session):
        self.session, self.rows = session, 0

    def run(self, names, feeds):
        self.rows += len(feeds["pixels"])
        return self.session.run(names, feeds)

    def get_inputs(self):
        return self.session.get_inputs()


def test_embed_shapes_cache_dedup_and_failures(tmp_path, cache, monkeypatch):
    d = tmp_path / "posters"
    d.mkdir()
    paths = [poster(d / "a.webp", 1), poster(d / "b.png", 2, size=(300, 450), mode="L")]
    paths.append(d / "c.png")
    shutil.copy(paths[0], paths[2])  # same content as a.webp under another name
    (d / "bad.jpg").write_bytes(b"not an image at all")
    paths.insert(1, d / "bad.jpg")
    paths.append(d / "missing.png")

    counter = {}

    def counting(path, threads):
        counter["s"] = CountingSession(open_session(path, threads))
        return counter["s"]

    monkeypatch.setattr(extract_mod, "_session", counting)
    emb, failures = embed(paths, None, FAST, cache, batch_size=2, progress=False)
    assert set(failures) == {d / "bad.jpg", d / "missing.png"}
    assert "not an image" in failures[d / "bad.jpg"] and "unreadable" in failures[d / "missing.png"]
    assert emb.shape == (3, get_spec(FAST).embedding_dim) and emb.dtype == np.float32
    np.testing.assert_array_equal(emb[0], emb[2])  # a.webp and its copy
    assert counter["s"].rows == 2  # two distinct decodable contents, each run once

    ok = [p for p in paths if p not in failures]
    with torch.no_grad():
        ref = BackboneFeatures(FAST)(torch.from_numpy(to_batch([load_canvas(p) for p in ok])))
    np.testing.assert_allclose(emb, ref.numpy(), atol=2e-3 * max(1, float(ref.abs().max())))

    def no_session(*_):
        raise AssertionError("a fully cached call must not run the graph")

    monkeypatch.setattr(extract_mod, "_session", no_session)
    hashes = [content_hash(p.read_bytes()) if p.exists() else None for p in paths]
    again, failures2 = embed(paths, hashes, FAST, cache, progress=False)
    np.testing.assert_array_equal(again, emb)
    assert set(failures2) == set(failures)


def test_embed_hashes_given_and_stale_file(tmp_path, cache):
    p = poster(tmp_path / "x.png", 5)
    stale = content_hash(p.read_bytes())
    poster(p, 6)  # the file changed after it was hashed
    emb, failures = embed([p], [stale], FAST, cache, progress=False)
    assert emb.shape == (0, get_spec(FAST).embedding_dim)
    assert "changed" in failures[p]


def test_tta_averages_the_mirror_image_under_its_own_producer(tmp_path, cache):
    p = poster(tmp_path / "t.png", 7)
    plain, _ = embed([p], None, FAST, cache, progress=False)
    flipped_path = tmp_path / "t_flip.png"
    Image.open(p).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped_path)
    mirror, _ = embed([flipped_path], None, FAST, cache, progress=False)
    tta, _ = embed([p], None, FAST, cache, tta=True, progress=False)
    np.testing.assert_allclose(tta, (plain + mirror) / 2, atol=1e-4)
    assert len(embedding_store(FAST, cache, tta=True)) == 1
    assert len(embedding_store(FAST, cache)) == 2


def test_large_jpegs_decode_in_draft_mode_to_nearly_the_same_canvas(tmp_path):
    import io

    from postergenre.data.images import decode
    from postergenre.features.canvas import DECODE_AT_LEAST, canvas, decode_canvas, load_canvas

    photo = Image.fromarray(load_sample_image("china.jpg")).resize((1400, 2000))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    drafted = decode(data, at_least=DECODE_AT_LEAST)
    assert drafted.size == (700, 1000)  # half scale still covers twice the canvas
    assert decode(data).size == (1400, 2000)
    full = canvas(decode(data)).astype(int)
    assert np.abs(decode_canvas(data) - full).mean() < 1.5
    (tmp_path / "p.jpg").write_bytes(data)
    np.testing.assert_array_equal(load_canvas(tmp_path / "p.jpg"), decode_canvas(data))
    small = io.BytesIO()
    photo.resize((182, 268)).save(small, "JPEG")
    assert decode(small.getvalue(), at_least=DECODE_AT_LEAST).size == (182, 268)  # never up
