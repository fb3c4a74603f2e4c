"""The report, thumbnails, film details and /docs as the server gives them: the report beside
the run or given on the command line, never through a planted link, whatever its bytes;
thumbnails of the comparable films; years in the year field's own range; docs offline."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from postergenre.bundle import load_bundle
from postergenre.bundle.thumbnails import SIZE
from postergenre.cli import main
from postergenre.features.year import FIRST, LAST
from postergenre.serve import SimilarIndex, create_app

from .bundles import poster
from .serving import CATALOGUE, build_served_bundle, catalogue_posters, png
from .test_serve import LIMITS, error_of, upload


@pytest.fixture
def run(tmp_path):
    """A run folder holding the served toy bundle (``model/``) and nothing else."""
    build_served_bundle(tmp_path / "run" / "model")
    return tmp_path / "run"


def client_of(model, report=None) -> TestClient:
    bundle = load_bundle(model)
    return TestClient(create_app(bundle, LIMITS, SimilarIndex.of(bundle), report))


def test_the_report_beside_the_run_is_served_whatever_its_bytes(run):
    with client_of(run / "model") as client:
        body = error_of(client.get("/report"), 404)
        assert "postergenre report" in body["error"] and "--report" in body["error"]
        assert client.get("/v1/model").json()["report"] is None
        (run / "report.html").write_bytes(b"<html><body>caf\xe9 \xff the run's report</body>")
        r = client.get("/report")
        assert r.status_code == 200 and "the run's report" in r.text and "\ufffd" in r.text
        assert client.get("/v1/model").json()["report"] == "/report"


def test_a_link_planted_in_the_run_folder_is_not_followed(run, tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("<p>private notes</p>")
    os.symlink(secret, run / "report.html")
    with client_of(run / "model") as client:
        r = client.get("/report")
        error_of(r, 404)
        assert "private notes" not in r.text
        assert client.get("/v1/model").json()["report"] is None
    (run / "report.html").unlink()
    os.mkfifo(run / "report.html")  # nor anything that is not a plain file
    with client_of(run / "model") as client:
        error_of(client.get("/report"), 404)


def test_a_report_given_on_the_command_line_is_served(run, tmp_path):
    given = tmp_path / "elsewhere" / "fusion-report.html"
    given.parent.mkdir()
    given.write_text("<html><body>the given report</body></html>")
    with client_of(run / "model", given) as client:
        assert "the given report" in client.get("/report").text
        assert client.get("/v1/model").json()["report"] == "/report"
        given.unlink()
        assert "fusion-report.html" in error_of(client.get("/report"), 404)["error"]
    assert main(["serve", str(run / "model"), "--report", str(tmp_path / "none.html")]) == 2


def test_comparable_films_come_with_thumbnails(run):
    entry = load_bundle(run / "model").meta["similar"]["thumbnails"]
    assert entry["films"] == len(CATALOGUE) - 1  # the last film's poster does not decode
    assert entry["bytes"] < 2000 * len(CATALOGUE)
    with client_of(run / "model") as client:
        assert client.get("/v1/model").json()["similar"]["thumbnails"] is True
        r = client.post("/v1/similar", files=[upload("q.png", png(catalogue_posters()[0]),
                                                     "file")], data={"k": len(CATALOGUE)})
        films = {f["id"]: f for f in r.json()["films"]}
        last = CATALOGUE[-1][0]
        assert films[last]["thumbnail"] is None
        for film, f in films.items():
            if film == last:
                continue
            got = client.get(f["thumbnail"])
            assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
            with Image.open(io.BytesIO(got.content)) as im:
                assert im.format == "WEBP" and im.width <= SIZE[0] and im.height <= SIZE[1]
        error_of(client.get("/v1/films/tt9999999/thumbnail"), 404)
        error_of(client.get(f"/v1/films/{last}/thumbnail"), 404)


def test_an_index_without_thumbnails_still_serves(run):
    model = run / "model"
    doc = load_bundle(model).meta
    thumbs = doc["similar"].pop("thumbnails")["file"]
    del doc["files"][thumbs]
    (model / "bundle.json").write_text(json.dumps(doc))
    with client_of(model) as client:
        r = client.post("/v1/similar", files=[upload("q.png", png(poster((220, 20, 20))),
                                                     "file")])
        assert r.status_code == 200 and all(f["thumbnail"] is None for f in r.json()["films"])


def test_years_are_taken_in_the_year_fields_range_and_said_ignored(run):
    with client_of(run / "model") as client:
        fields = {f["name"]: f for f in client.get("/v1/model").json()["fields"]}
        assert (fields["year"]["minimum"], fields["year"]["maximum"]) == (FIRST, LAST)
        assert fields["title"]["max_length"] == LIMITS.max_text
        red = [upload("r.png", png(poster((220, 20, 20))))]
        for year in (LAST + 1, 2100, FIRST - 1):
            error_of(client.post("/v1/predict", files=red, data={"year": str(year)}), 422,
                     field="year")
        r = client.post("/v1/predict", files=red, data={"year": str(LAST)})
        assert r.json()["posters"][0]["inputs"]["ignored"] == ["year"]  # this model reads none


def test_docs_are_served_from_the_package(run):
    with client_of(run / "model") as client:
        page = client.get("/docs").text
        assert "https://" not in page and "http://" not in page.replace(
            "http://testserver", "")
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert f"/static-offline-docs/{asset}" in page
            got = client.get(f"/static-offline-docs/{asset}")
            assert got.status_code == 200 and len(got.content) > 10_000


def test_the_run_folder_can_move(run, tmp_path):
    """The report is looked for beside the bundle wherever the run folder now is."""
    moved = tmp_path / "moved"
    shutil.move(run, moved)
    (moved / "report.html").write_text("<p>moved report</p>")
    with client_of(moved / "model") as client:
        assert "moved report" in client.get("/report").text


def test_thumbnails_that_do_not_match_the_index_are_refused(run):
    from safetensors.numpy import load_file, save

    from postergenre.bundle.thumbnails import FILE
    from postergenre.errors import UserError

    model = run / "model"
    arrays = load_file(str(model / FILE))
    (model / FILE).write_bytes(save({"data": arrays["data"], "offsets": arrays["offsets"][:-1]}))
    doc = json.loads((model / "bundle.json").read_text())
    data = (model / FILE).read_bytes()
    doc["files"][FILE] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (model / "bundle.json").write_text(json.dumps(doc))
    bundle = load_bundle(model)
    with pytest.raises(UserError, match="thumbnails do not match"):
        create_app(bundle, LIMITS, SimilarIndex.of(bundle))
