"""``data fetch``: a movie table with poster URLs → a dataset folder, against a real local server.

Every fault the server injects must end as documented (downloaded, retried then downloaded, or
reported failed with its reason), nothing half-written may remain, a re-run fetches only what
is missing, and a run killed mid-way finishes when run again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from postergenre.cli import main
from postergenre.data import images
from postergenre.data.check import check_dataset
from postergenre.data.dataset import load_dataset
from postergenre.data.fetch import FetchOptions, fetch_table, resolve
from postergenre.data.filters import Filters, apply_filters, parse_years, year_of
from postergenre.errors import UserError

from .conftest import SHARED_DATA, save_image
from .fetch_server import FaultServer

SEED = SHARED_DATA / "seed-imdb-api" / "movie_df_clean.csv"
FAST = FetchOptions(
    concurrency=8,
    per_host=8,
    timeout=0.6,  # a loaded machine may take 0.3 s to answer locally
    deadline=0.8,
    retries=2,
    backoff=0.01,
    max_mb=1.0,
)


@pytest.fixture(scope="module")
def posters(tmp_path_factory) -> dict[str, bytes]:
    """Small poster files in several formats, plus a broken JPEG and a byte-identical copy."""
    folder = tmp_path_factory.mktemp("posters")
    out = {}
    for i, (name, fmt) in enumerate(
        [("a.jpg", "JPEG"), ("b.png", "PNG"), ("c.webp", "WEBP"), ("d.jpg", "JPEG")]
    ):
        path = save_image(folder / name, color=(40 * i, 200 - 40 * i, 90), fmt=fmt, seed=i)
        out[name] = path.read_bytes()
    out["a_copy.jpg"] = out["a.jpg"]
    out["broken.jpg"] = out["a.jpg"][: len(out["a.jpg"]) // 2]
    return out


@pytest.fixture
def server(posters):
    with FaultServer(posters, slow_seconds=2.0) as s:
        yield s


def write_table(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def failures_of(out: Path) -> dict[str, tuple[str, int, str]]:
    df = pd.read_csv(out / "fetch" / "failures.csv", dtype=str, keep_default_na=False)
    return {r.id: (r.reason, int(r.attempts), r.detail) for r in df.itertuples()}


def files_of(out: Path) -> dict[str, list[Path]]:
    by_id: dict[str, list[Path]] = {}
    for p in (out / "posters").iterdir():
        by_id.setdefault(p.stem, []).append(p)
    return by_id


def assert_clean(out: Path) -> None:
    """No temp file left; every poster decodes and matches the hash recorded for it."""
    names = [p.name for p in (out / "posters").iterdir()]
    assert not [n for n in names if n.startswith(".") or n.endswith(".part")], names
    manifest = pd.read_csv(out / "fetch" / "posters.csv", dtype=str).set_index("id")
    for p in (out / "posters").iterdir():
        data = p.read_bytes()
        images.decode(data)
        assert manifest.loc[p.stem, "sha256"] == sha(data)
        assert manifest.loc[p.stem, "file"] == p.name


# Each case: id → (URL path on the server, expected end, attempts = requests the server sees).
CASES = {
    "ok_jpg": ("img/a.jpg", ".jpg", 1),
    "ok_png": ("img/b.png", ".png", 1),
    "ok_webp": ("img/c.webp", ".webp", 1),
    "same_url": ("img/a.jpg", ".jpg", 0),  # shares ok_jpg's request
    "same_bytes": ("img/a_copy.jpg", ".jpg", 1),
    "flaky": ("flaky/2/d.jpg", ".jpg", 3),  # 500, 500, then the image
    "rate_limited": ("ratelimit/1/b.png", ".png", 2),
    "cut_once": ("cut/1/c.webp", ".webp", 2),  # truncated, then whole
    "redirect": ("redirect/d.jpg", ".jpg", 1),
    "not_found": ("missing/a.jpg", "http-404", 1),  # 4xx: never retried
    "server_error": ("error/a.jpg", "http-503", 3),  # 1 + 2 retries
    "slow": ("slow/a.jpg", "timeout", 3),
    "drip": ("drip/a.jpg", "timeout", 3),
    "truncated": ("truncated/a.jpg", "truncated", 3),
    "html": ("html/a.jpg", "not-an-image", 1),
    "broken_jpeg": ("img/broken.jpg", "not-an-image", 1),
    "loop": ("loop/a.jpg", "too-many-redirects", 1),
    "huge": ("huge/a.jpg", "too-large", 1),
    "endless": ("endless/a.jpg", "too-large", 1),
}


def fault_table(tmp_path: Path, server: FaultServer, posters: dict[str, bytes]) -> Path:
    rows = [{"id": k, "image": server.url(p), "genres": "Drama"} for k, (p, _, _) in CASES.items()]
    local = tmp_path / "src"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "rel.png").write_bytes(posters["b.png"])
    (local / "abs.jpg").write_bytes(posters["d.jpg"])
    rows += [
        {"id": "local_abs", "image": str(local / "abs.jpg"), "genres": "Comedy"},
        {"id": "local_uri", "image": (local / "abs.jpg").as_uri(), "genres": "Comedy"},
        {"id": "local_rel", "image": "sub/rel.png", "genres": "Comedy"},
        {"id": "local_gone", "image": str(local / "nope.jpg"), "genres": "Comedy"},
        {"id": "ftp", "image": "ftp://example.com/a.jpg", "genres": "Comedy"},
        {"id": "no_url", "image": "", "genres": "Comedy"},
    ]
    return write_table(local / "movies.csv", rows)


def test_each_fault_ends_as_documented_and_a_rerun_fetches_only_what_is_missing(
    tmp_path, server, posters
):
    table = fault_table(tmp_path, server, posters)
    out = tmp_path / "ds"
    report = fetch_table(table, out, options=FAST, progress=False)

    fails, files = failures_of(out), files_of(out)
    for id_, (path, end, requests) in CASES.items():
        if end.startswith("."):
            assert id_ not in fails, (id_, fails.get(id_))
            assert [p.suffix for p in files[id_]] == [end], id_
        else:
            assert id_ not in files, id_
            assert fails[id_][:2] == (end, requests), (id_, fails[id_])
        if id_ == "loop":  # one attempt: the first request and each redirect
            requests = FAST.max_redirects + 1
        assert server.hits[f"/{path}"] == requests or id_ == "same_url", (id_, server.hits)
    assert "HTML" in fails["html"][2] and "image/jpeg" in fails["html"][2]
    for id_ in ("local_abs", "local_uri", "local_rel"):
        assert len(files[id_]) == 1
    assert files["local_rel"][0].read_bytes() == posters["b.png"]
    assert fails["local_gone"][:2] == ("missing-file", 1)
    assert fails["ftp"] == ("unsupported-scheme", 0, fails["ftp"][2])
    assert fails["no_url"][:2] == ("missing-url", 0)
    assert files["flaky"][0].read_bytes() == posters["d.jpg"]
    assert_clean(out)

    n_ok = sum(end.startswith(".") for _, end, _ in CASES.values()) + 3
    assert report["posters"] == {
        "present": n_ok,
        "downloaded": n_ok,
        "already_present": 0,
        "failed": len(fails),
    }
    assert report["failures_by_reason"]["timeout"] == 2
    assert report["hints"]["http-404"]
    dup_ids = {tuple(g["ids"]) for g in report["duplicates"]}
    assert ("ok_jpg", "same_bytes", "same_url") in dup_ids
    assert json.loads((out / "fetch" / "report.json").read_text()) == report

    # The folder is a dataset: movies.csv is the label table, the reports are not read.
    ds = load_dataset(out)
    assert [t["file"] for t in ds.sources["tables"]] == [str(out / "movies.csv")]
    assert len(ds.labelled) == n_ok and sorted(ds.labels_without_images) == sorted(fails)

    # Re-run: nothing good is requested again; only failures are retried.
    server.hits.clear()
    again = fetch_table(table, out, options=FAST, progress=False)
    assert again["posters"]["already_present"] == n_ok and again["posters"]["downloaded"] == 0
    for id_, (path, end, _) in CASES.items():
        if end.startswith("."):
            assert server.hits[f"/{path}"] == 0, id_
    assert server.hits["/missing/a.jpg"] == 1

    # A deleted poster, one damaged behind our back and a stale temp file: only those two
    # are fetched again, and the temp file goes.
    files["ok_png"][0].unlink()
    files["redirect"][0].write_bytes(b"garbage")
    (out / "posters" / ".ok_webp.x1y2.part").write_bytes(b"half")
    server.hits.clear()
    third = fetch_table(table, out, options=FAST, progress=False)
    assert third["posters"]["downloaded"] == 2
    assert server.hits["/img/b.png"] == 1 and server.hits["/redirect/d.jpg"] == 1
    assert server.hits["/img/a.jpg"] == 0 and server.hits["/img/c.webp"] == 0
    assert_clean(out)


def test_a_changed_url_or_format_is_fetched_again(tmp_path, server):
    out = tmp_path / "ds"
    table = write_table(tmp_path / "t.csv", [{"id": "x", "image": server.url("img/a.jpg")}])
    fetch_table(table, out, options=FAST, progress=False)
    write_table(table, [{"id": "x", "image": server.url("img/b.png")}])
    report = fetch_table(table, out, options=FAST, progress=False)
    assert report["posters"]["downloaded"] == 1
    assert [p.name for p in (out / "posters").iterdir()] == ["x.png"]  # the old .jpg is gone
    assert_clean(out)


FETCH_SCRIPT = "import sys; from postergenre.cli import main; sys.exit(main(sys.argv[1:]))"


def test_a_run_killed_midway_completes_when_restarted(tmp_path, server, posters):
    names = ["a.jpg", "b.png", "c.webp", "d.jpg"]
    rows = [
        {"id": f"tt{i:07d}", "image": server.url(f"img/{names[i % 4]}"), "genres": "Drama"}
        for i in range(40)
    ]
    for i, row in enumerate(rows):  # distinct URLs, same bytes cycle: each id its own request
        row["image"] += f"?n={i}"
    table = write_table(tmp_path / "movies.csv", rows)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-c", FETCH_SCRIPT, "data", "fetch", str(table), "--out", str(out)]
    cmd += ["--concurrency", "3", "--json"]
    server.delay = 0.3
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = [p for p in (out / "posters").glob("tt*")] if (out / "posters").exists() else []
            if len(done) >= 5:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    got_before = {p.stem for p in (out / "posters").glob("tt*")}
    assert 5 <= len(got_before) < 40
    for p in (out / "posters").glob("tt*"):  # whatever has its final name is whole
        images.decode(p.read_bytes())

    server.delay = 0.0
    server.hits.clear()
    again = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
    assert again.returncode == 0, again.stderr.decode()
    report = json.loads(again.stdout)
    assert report["posters"]["present"] == 40 and report["posters"]["failed"] == 0
    assert report["posters"]["already_present"] >= len(got_before)
    for row in rows:  # nothing that had arrived was fetched again
        requested = server.hits[row["image"].removeprefix(server.base)]
        assert requested == (0 if row["id"] in got_before else 1), row["id"]
    files = files_of(out)
    assert sorted(files) == sorted(r["id"] for r in rows)
    for i, row in enumerate(rows):
        (path,) = files[row["id"]]  # exactly one file per id
        assert sha(path.read_bytes()) == sha(posters[names[i % 4]])
    assert_clean(out)


def test_the_prototype_table_becomes_a_dataset_data_check_accepts(tmp_path, server):
    if not SEED.is_file():
        pytest.skip("../shared/data/seed-imdb-api/movie_df_clean.csv not available")
    with open(SEED, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header, rows = next(reader), [r for _, r in zip(range(30), reader, strict=False)]
    id_at, url_at = header.index("id"), header.index("image")
    for n, row in enumerate(rows):  # the URLs, rewritten to the local server
        server.images[f"{row[id_at]}.jpg"] = save_image(
            tmp_path / "gen" / f"{row[id_at]}.jpg", color=(8 * n, 120, 250 - 8 * n), seed=n
        ).read_bytes()
        row[url_at] = server.url(f"img/{row[id_at]}.jpg")
    rows[3][url_at] = server.url("missing/x.jpg")
    table = tmp_path / "movie_df_clean.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])

    out = tmp_path / "ds"
    code = main(["data", "fetch", str(table), "--out", str(out), "--json", "--timeout", "2"])
    assert code == 0
    with open(out / "movies.csv", newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == header  # original columns, the unnamed first one too

    ds = load_dataset(out)
    assert ds.sources["tables"][0]["genres"] == "column 'genres'"
    assert ds.sources["tables"][0]["metadata"] == {"title": "title", "plot": "plot"}
    assert len(ds.labelled) == 29 and ds.labels_without_images == [rows[3][id_at]]
    assert ds.labelled["title"].notna().all()
    report = check_dataset(ds, min_support=1, progress=False)
    assert report["decodable"] == 29 and report["labelled_decodable"] == 29
    assert not report["corrupt"] and not report["images_without_labels"]

    code = main(["data", "check", str(out), "--json", "--out", str(tmp_path / "check")])
    assert code == 0
    check = json.loads((tmp_path / "check" / "check.json").read_text())
    assert check["labelled_decodable"] == 29 and check["labels_without_images"] == [rows[3][id_at]]


# --------------------------------------------------------------------------- filters


def movie_rows() -> list[dict]:
    return [
        {
            "id": "m1",
            "contentRating": "G",
            "description": "1985",
            "genres": "Comedy, Family",
            "plot": "p",
            "title": "A",
        },
        {
            "id": "m2",
            "contentRating": "PG-13",
            "description": "1999",
            "genres": "Action",
            "plot": "p",
            "title": "B",
        },
        {
            "id": "m3",
            "contentRating": "R",
            "description": "1995",
            "genres": "Comedy",
            "plot": "p",
            "title": "C",
        },
        {
            "id": "m4",
            "contentRating": "PG",
            "description": "2010",
            "genres": "Family",
            "plot": "p",
            "title": "D",
        },
        {
            "id": "m5",
            "contentRating": "pg13",
            "description": "None",
            "genres": "Comedy",
            "plot": "p",
            "title": "E",
        },
        {
            "id": "m6",
            "contentRating": "PG",
            "description": "1990",
            "genres": "Comedy",
            "plot": "",
            "title": "F",
        },
        {
            "id": "m7",
            "contentRating": "",
            "description": "1991",
            "genres": "Comedy",
            "plot": "p",
            "title": "G",
        },
    ]


def test_filters_remove_rows_and_say_how_many(tmp_path, server):
    rows = movie_rows()
    for r in rows:
        r["image"] = server.url("img/a.jpg")
    table = write_table(tmp_path / "t.csv", rows)
    out = tmp_path / "ds"
    args = ["data", "fetch", str(table), "--out", str(out), "--json", "--rating", "G,PG,PG-13"]
    args += ["--years", "1980-1999", "--genres", "comedy,Family", "--require", "plot,title"]
    assert main(args) == 0
    report = json.loads((out / "fetch" / "report.json").read_text())
    assert [(s["filter"], s["column"], s["removed"]) for s in report["filters"]] == [
        ("plot present", "plot", 1),
        ("title present", "title", 0),
        ("rating in G, PG, PG-13", "contentRating", 2),  # R, and the blank rating
        ("year 1980-1999", "description", 2),  # 2010, and "None" (no year)
        ("genres any of comedy, Family", "column 'genres'", 1),  # Action
    ]
    kept = pd.read_csv(out / "movies.csv", dtype=str)
    assert kept["id"].tolist() == ["m1"]
    assert report["rows_selected"] == 1 and report["posters"]["present"] == 1
    assert server.hits["/img/a.jpg"] == 1  # filtered rows are never downloaded


def test_filter_parsing_and_detection():
    assert parse_years("1980-2023") == (1980, 2023)
    assert parse_years("1990-") == (1990, None) and parse_years("-2000") == (None, 2000)
    assert parse_years("1995") == (1995, 1995)
    for bad in ("80-90", "2000-1990", "soon"):
        with pytest.raises(UserError):
            parse_years(bad)
    assert year_of("1995-10-30") == 1995 and year_of("(2001)") == 2001 and year_of("None") is None
    df = pd.DataFrame(
        {"id": ["a", "b"], "rating": ["7.5", "8.1"], "release_date": ["1990", "2001"]}
    )
    with pytest.raises(UserError, match="--rating-column"):  # a score is not a certificate
        apply_filters(df, Filters(ratings=["PG"]), Path("t.csv"))
    kept, steps = apply_filters(df, Filters(years=(2000, None)), Path("t.csv"))
    assert kept["id"].tolist() == ["b"] and steps[0]["column"] == "release_date"
    with pytest.raises(UserError, match="no column 'plot'"):
        apply_filters(df, Filters(require=["plot"]), Path("t.csv"))


def test_filters_on_the_prototype_table():
    if not SEED.is_file():
        pytest.skip("../shared/data/seed-imdb-api/movie_df_clean.csv not available")
    from postergenre.data.table import read_table

    df = read_table(SEED)
    kept, steps = apply_filters(df, Filters(ratings=["G", "PG", "PG-13"], years=(1980, 2023)), SEED)
    expected = df[df["contentRating"].isin(["G", "PG", "PG-13"])]
    expected = expected[pd.to_numeric(expected["description"], errors="coerce").between(1980, 2023)]
    assert len(kept) == len(expected) > 3000
    assert [s["column"] for s in steps] == ["contentRating", "description"]


# --------------------------------------------------------------------------- refusals


def test_urls_resolve_or_are_refused(tmp_path):
    assert resolve("https://x.org/a.jpg", None, tmp_path) == ("https://x.org/a.jpg", False)
    assert resolve("//x.org/a.jpg", None, tmp_path) == ("https://x.org/a.jpg", False)
    assert resolve("/p/a.jpg", "https://img.tmdb.org/t/p/w500", tmp_path) == (
        "https://img.tmdb.org/t/p/w500/p/a.jpg",
        False,
    )
    assert resolve("a b.jpg", None, tmp_path) == (str(tmp_path / "a b.jpg"), True)
    assert resolve("file:///tmp/a%20b.jpg", None, tmp_path) == ("/tmp/a b.jpg", True)
    for bad, reason in [
        ("ftp://x.org/a.jpg", "unsupported-scheme"),
        ("data:image/png;base64,xx", "unsupported-scheme"),
        ("s3://bucket/a.jpg", "unsupported-scheme"),
        ("file://otherhost/a.jpg", "unsupported-scheme"),
        ("http:///a.jpg", "bad-url"),
        (float("nan"), "missing-url"),
    ]:
        with pytest.raises(Exception) as e:
            resolve(bad, None, tmp_path)
        assert e.value.reason == reason, bad


def test_bad_invocations_are_one_line_errors(tmp_path, capsys):
    table = write_table(tmp_path / "t.csv", [{"id": "a", "title": "x"}])
    out = str(tmp_path / "ds")
    assert main(["data", "fetch", str(table), "--out", out]) == 2
    assert "no poster URL column found; name it with --url-column" in capsys.readouterr().err
    table = write_table(tmp_path / "t.csv", [{"id": "a", "image": "a.jpg"}])
    assert main(["data", "fetch", str(table), "--out", out, "--require", "plot"]) == 2
    assert main(["data", "fetch", str(table), "--out", out, "--years", "later"]) == 2
    assert main(["data", "fetch", str(table), "--out", out, "--concurrency", "0"]) == 2
    same = write_table(tmp_path / "ds2" / "movies.csv", [{"id": "a", "image": "a.jpg"}])
    assert main(["data", "fetch", str(same), "--out", str(same.parent)]) == 2
    assert "the table fetch writes" in capsys.readouterr().err
    # a local file that is missing is a reported failure, not an error
    assert main(["data", "fetch", str(table), "--out", out, "--json"]) == 0
    assert "missing-file" in capsys.readouterr().out
