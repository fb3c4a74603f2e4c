"""The web app's API: predictions, explanations, comparable films, and every limit."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from postergenre.bundle import load_bundle
from postergenre.cli import main
from postergenre.errors import UserError
from postergenre.serve import Limits, SimilarIndex, create_app
from postergenre.serve.batching import Batcher, Busy
from postergenre.serve.limits import ApiError

from .bundles import GENRES, build_bundle, poster
from .serving import CATALOGUE, build_served_bundle, catalogue_posters, free_port, png

LIMITS = Limits(max_file_bytes=300_000, max_request_bytes=1_000_000, max_pixels=2_000_000,
                max_files=4, timeout_s=20)
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    return build_served_bundle(tmp_path_factory.mktemp("serve") / "model")


def make_app(path, limits=LIMITS, with_index=True):
    bundle = load_bundle(path)
    return create_app(bundle, limits, SimilarIndex.of(bundle) if with_index else None)


@pytest.fixture(scope="module")
def client(served):
    with TestClient(make_app(served)) as c:
        yield c


def upload(name, data, field="files", kind="image/png"):
    return (field, (name, data, kind))


def error_of(r, status, file=None, field=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["error"] and "Traceback" not in r.text
    if file is not None:
        assert body["file"] == file, body
    if field is not None:
        assert body["field"] == field, body
    return body


# --- the API ------------------------------------------------------------------------------


def test_predict_ranks_genres_of_many_posters(client):
    files = [upload("red.png", png(poster(RED))), upload("blue.png", png(poster(BLUE)))]
    r = client.post("/v1/predict", files=files, data={"title": "Red Night", "year": "1980"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == client.get("/v1/model").json()["id"]
    red, blue = body["posters"]
    assert (red["file"], blue["file"]) == ("red.png", "blue.png")
    assert red["decided"] == ["Horror"] and blue["decided"] == ["Comedy"]
    probs = [g["probability"] for g in red["genres"]]
    assert probs == sorted(probs, reverse=True) and {g["genre"] for g in red["genres"]} == set(
        GENRES)
    assert [g["genre"] for g in red["genres"] if g["decided"]] == red["decided"]
    assert red["inputs"] == {"used": ["poster"], "ignored": ["title", "year"], "rule": []}
    assert all(g["threshold"] == 0.5 for g in red["genres"])  # the toy bundle's rule


def test_model_health_and_openapi(client):
    model = client.get("/v1/model").json()
    assert model["genres"] == GENRES and model["thresholds"] == dict.fromkeys(GENRES, 0.5)
    assert model["inputs"] == [{"name": "poster", "type": "image", "required": True}]
    assert model["similar"]["films"] == len(CATALOGUE) and model["limits"]["max_files"] == 4
    assert client.get("/healthz").json() == {"status": "ok", "model": model["id"]}
    doc = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/explain", "/v1/similar", "/v1/model", "/healthz"} <= set(
        doc["paths"])
    schemas = doc["components"]["schemas"]
    assert all(schemas[s].get("examples") for s in ("PredictResponse", "ModelInfo",
                                                    "ExplainResponse", "SimilarResponse"))
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_explain_points_at_the_region_that_says_the_genre(client):
    half = poster(GREEN, size=(60, 90))
    half[:45] = poster(RED, size=(60, 45))  # top half red (Horror), bottom half green
    r = client.post("/v1/explain", files=[upload("half.png", png(half), "file")],
                    data={"genre": "Horror", "rows": 4, "cols": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    grid = np.array(body["grid"])
    assert grid.shape == (4, 3) and (body["rows"], body["cols"]) == (4, 3)
    assert grid[:2].mean() > 0 > grid[2:].mean()  # hiding red lowers Horror, green raises it
    assert body["overlay"].startswith("data:image/png;base64,")
    overlay = Image.open(io.BytesIO(base64.b64decode(body["overlay"].split(",", 1)[1])))
    assert overlay.size == (182, 268)
    error_of(client.post("/v1/explain", files=[upload("half.png", png(half), "file")],
                         data={"genre": "Western"}), 422, field="genre")
    error_of(client.post("/v1/explain", files=[upload("half.png", png(half), "file")],
                         data={"genre": "Horror", "rows": 24, "cols": 16}), 422, field="rows")


def test_similar_finds_the_catalogue_poster_itself_first(client, served):
    posters = catalogue_posters()
    for (film_id, title, year, genres, _), arr in zip(CATALOGUE, posters, strict=True):
        r = client.post("/v1/similar", files=[upload("q.png", png(arr), "file")],
                        data={"k": 3})
        assert r.status_code == 200, r.text
        films = r.json()["films"]
        assert len(films) == 3 and films[0]["id"] == film_id and films[0]["distance"] < 1e-3
        assert (films[0]["title"], films[0]["year"], films[0]["genres"]) == (title, year, genres)
        assert [f["distance"] for f in films] == sorted(f["distance"] for f in films)
    with TestClient(make_app(served, with_index=False)) as bare:
        error_of(bare.post("/v1/similar", files=[upload("q.png", png(posters[0]), "file")]), 404)


def test_the_index_is_compact_checked_and_registered(served, tmp_path):
    meta = load_bundle(served).meta
    entry = meta["similar"]
    assert entry["n_films"] == len(CATALOGUE) and entry["dims"] == 4
    for name in (entry["vectors"], entry["films"], *entry["encoders"]):
        assert meta["files"][name]["bytes"] == (served / name).stat().st_size
    from safetensors.numpy import load_file

    assert load_file(str(served / entry["vectors"]))["vectors"].dtype == np.float16
    altered = tmp_path / "altered"
    build_served_bundle(altered)
    (altered / entry["films"]).write_text(json.dumps({"ids": []}))
    with pytest.raises(UserError, match="checksum"):
        load_bundle(altered)


def test_records_carry_every_declared_field_and_report_what_was_used():
    """A bundle that declares more fields (here the year) gets them; absent optional ones
    get the field's absent row and are not counted as used."""
    from postergenre.features.specs import FIELDS
    from postergenre.serve import uploads

    if "year" not in FIELDS:
        pytest.skip("this postergenre has no year field")
    inputs = [{"name": "poster", "required": True}, {"name": "year", "required": False}]
    data = png(poster(RED))
    given = uploads.poster("a.png", data, {"year": 1999, "plot": "A plot."}, inputs,
                           LIMITS).prepared
    assert given.used == ["poster", "year"] and given.ignored == ["plot"]
    assert given.rows["poster"].shape == (268, 182, 3) and float(given.rows["year"][0]) == 1999
    absent = uploads.poster("a.png", data, {"year": None}, inputs, LIMITS).prepared
    assert absent.used == ["poster"] and absent.ignored == []
    assert np.array_equal(absent.rows["year"], FIELDS["year"].absent())
    required = [{"name": "poster", "required": True}, {"name": "year", "required": True}]
    with pytest.raises(ApiError) as e:
        uploads.poster("a.png", data, {}, required, LIMITS)
    assert e.value.status == 422 and e.value.field == "year" and e.value.file == "a.png"


# --- limits and safety -------------------------------------------------------------------


def huge_png(width=60_000, height=60_000) -> bytes:
    """A valid small PNG whose header declares ``width`` x ``height`` (a decompression bomb)."""
    data = bytearray(png(poster(RED, size=(8, 8))))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize("files, status, file, field", [
    ([upload("notes.jpg", b"these are my notes, not a poster", kind="image/jpeg")], 415,
     "notes.jpg", None),
    ([upload("bomb.png", huge_png())], 422, "bomb.png", None),
    ([upload("big.png", png(np.full((1100, 2000, 3), 90, np.uint8)))], 422, "big.png", None),
    ([upload("cut.png", png(poster(RED))[:200])], 422, "cut.png", None),
    ([upload("empty.png", b"")], 422, "empty.png", None),
    ([upload("noise.png", os.urandom(310_000))], 413, "noise.png", None),
    ([upload(f"p{i}.png", png(poster(RED))) for i in range(5)], 422, None, "files"),
    ([upload("red.png", png(poster(RED)), field="image")], 422, None, "files"),
    ([upload("ok.png", png(poster(RED))), upload("doc.png", b"%PDF-1.4 not an image")], 415,
     "doc.png", None),
])
def test_bad_uploads_are_refused_with_json_naming_the_file(client, files, status, file, field):
    error_of(client.post("/v1/predict", files=files), status, file=file, field=field)


def test_empty_bodies_paths_and_oversized_bodies_are_refused(client):
    error_of(client.post("/v1/predict"), 422, field="files")
    error_of(client.post("/v1/predict", data={"files": "/etc/hostname"}), 422, field="files")
    error_of(client.post("/v1/predict", data={"title": "x" * (LIMITS.max_text + 1)},
                         files=[upload("r.png", png(poster(RED)))]), 422, field="title")
    error_of(client.post("/v1/predict", content=b"x" * 1_100_000,
                         headers={"content-type": "multipart/form-data; boundary=b"}), 413)

    def stream():  # no Content-Length: the guard counts the bytes as they come
        for _ in range(40):
            yield b"y" * 50_000

    error_of(client.post("/v1/predict", content=stream(),
                         headers={"content-type": "multipart/form-data; boundary=b"}), 413)
    error_of(client.post("/v1/predict", content=b"--b--",
                         headers={"content-type": "multipart/form-data; boundary=b"}), 422)
    error_of(client.get("/v1/nothing"), 404)


class Gate:
    """A model runner that blocks until opened, then gives fixed probabilities."""

    def __init__(self):
        self.open, self.entered = threading.Event(), threading.Event()

    def __call__(self, rows):
        self.entered.set()
        self.open.wait(10)
        return np.full((len(rows), len(GENRES)), 0.25, np.float32)


async def _concurrently(app, n, gate, timeout=10):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as ac:
        async def one():
            return await ac.post("/v1/predict", files=[upload("r.png", png(poster(RED)))])

        first = asyncio.create_task(one())
        await asyncio.to_thread(gate.entered.wait, timeout)
        rest = [asyncio.create_task(one()) for _ in range(n - 1)]
        await asyncio.wait(rest, return_when=asyncio.FIRST_COMPLETED)  # a refusal, at once
        gate.open.set()
        return [await first, *[await t for t in rest]]


@pytest.mark.parametrize("limits", [replace(LIMITS, max_queue=1),
                                    replace(LIMITS, max_requests=1),
                                    replace(LIMITS, timeout_s=0.5)])
def test_busy_servers_answer_503_with_retry_after(served, limits):
    app = make_app(served, limits)
    gate = Gate()
    app.state.service.batcher.runners["model"] = gate
    responses = asyncio.run(_concurrently(app, 3, gate))
    codes = sorted(r.status_code for r in responses)
    assert 503 in codes and set(codes) <= {200, 503}, codes
    for r in responses:
        if r.status_code == 503:
            assert int(r.headers["retry-after"]) >= 1 and r.json()["status"] == 503
    app.state.service.close()


def test_an_internal_error_is_a_bare_500(served):
    app = make_app(served)

    def broken(rows):
        raise RuntimeError("secret detail in /srv/models")

    app.state.service.batcher.runners["model"] = broken
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/predict", files=[upload("r.png", png(poster(RED)))])
    assert r.status_code == 500 and r.json() == {"status": 500, "error": "internal error"}


# --- batching ------------------------------------------------------------------------------


def test_concurrent_jobs_share_batches_and_get_their_own_rows():
    gate = Gate()
    calls = []

    def run(rows):
        calls.append(len(rows))
        return np.array([[r["x"]] for r in rows], np.float32)

    batcher = Batcher({"slow": gate, "model": run}, batch_size=8, workers=1, max_queue=10)
    blocker = batcher.submit("slow", [{}])
    assert gate.entered.wait(5)
    jobs = [batcher.submit("model", [{"x": 10 * i + j} for j in range(k)])
            for i, k in enumerate([3, 2, 3, 1])]
    jobs[1].cancel()  # its request gave up: skipped
    with pytest.raises(Busy):
        batcher.submit("model", [{"x": 0}] * 2)
    gate.open.set()
    blocker.result(5)
    outs = [j.result(5) for j in (jobs[0], jobs[2], jobs[3])]
    assert [o[:, 0].tolist() for o in outs] == [[0, 1, 2], [20, 21, 22], [30]]
    assert calls == [7]  # three requests, one graph run
    batcher.close()


# --- the commands --------------------------------------------------------------------------


def test_index_command_builds_the_index_of_a_run(tmp_path):
    from .test_train import colour_dataset

    data = colour_dataset(tmp_path / "data", n=12)
    run = tmp_path / "run"
    build_bundle(run / "model")
    doc = json.loads((run / "model" / "bundle.json").read_text())
    doc["data"] = {"dataset": str(data)}
    doc["model"]["backbones"] = ["mobilenet_v2"]
    (run / "model" / "bundle.json").write_text(json.dumps(doc))
    (run / "predictions_test.csv").write_text("id,Horror\ntt0000,0.5\ntt0001,0.5\n")
    (run / "COMPLETE").write_text("finished\n")
    assert main(["index", str(run), "--cache", str(tmp_path / "cache"), "--dims", "8"]) == 0
    bundle = load_bundle(run / "model")
    index = SimilarIndex.of(bundle)
    assert len(index) == 10 and "tt0000" not in index.films["ids"]
    assert bundle.meta["similar"]["backbones"] == ["mobilenet_v2"]
    first = Image.open(data / "posters" / "tt0005.png").convert("RGB")
    from postergenre.features.canvas import canvas

    assert index.nearest(index.embed([canvas(first)])[0], 1)[0]["id"] == "tt0005"
    assert main(["index", str(tmp_path / "nowhere")]) == 2


def test_serve_command_answers_on_loopback(served):
    port = free_port()
    command = Path(sys.executable).parent / "postergenre"
    proc = subprocess.Popen([str(command), "serve", str(served), "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert r.json()["status"] == "ok" and "server" not in r.headers
        r = httpx.post(f"http://127.0.0.1:{port}/v1/predict",
                       files=[upload("r.png", png(poster(RED)))])
        assert r.json()["posters"][0]["decided"] == ["Horror"]
    finally:
        proc.terminate()
        proc.wait(10)
    assert main(["serve", str(served.parent / "missing")]) == 2
