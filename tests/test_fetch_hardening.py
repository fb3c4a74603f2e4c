"""``data fetch`` on hostile input: special local files, out-of-range options, unusable tables
and output folders. Each ends as one line and a documented exit code, never a traceback or a
hang."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from postergenre.cli import main
from postergenre.data.fetch import FetchFailure, FetchOptions, OptionError, fetch_table
from postergenre.data.fetch.local import copy_local
from postergenre.errors import UserError

from .conftest import save_image
from .fetch_server import FaultServer
from .test_fetch import failures_of, write_table


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the suite) if the test takes over 30 s."""

    def expire(*_):
        raise TimeoutError("the test hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def fetch(capsys, table: Path, out: Path, *args: str) -> tuple[int, str, str]:
    code = main(["data", "fetch", str(table), "--out", str(out), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out, captured.err


def one_line_error(err: str, *needles: str) -> str:
    """The single stderr line of a refused run, checked to contain every needle."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def table(tmp_path) -> Path:
    save_image(tmp_path / "a.png", fmt="PNG")
    return write_table(tmp_path / "t.csv", [{"id": "a", "image": "a.png"}])


# --------------------------------------------------------------------------- local sources


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero and /dev/urandom")
def test_local_special_files_are_refused_and_size_limits_apply(tmp_path, capsys, no_hang):
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe.jpg")  # opening it for reading would block without a writer
    (src / "folder.jpg").mkdir()
    (src / "zero.jpg").symlink_to("/dev/zero")
    (src / "big.jpg").write_bytes(b"\xff\xd8" + b"\0" * 200_000)
    save_image(src / "good.png", fmt="PNG")
    cells = {
        "dev_zero": "/dev/zero",
        "urandom_uri": "file:///dev/urandom",
        "fifo": str(src / "pipe.jpg"),
        "folder": "folder.jpg",
        "link_to_device": "zero.jpg",
        "big": (src / "big.jpg").as_uri(),
        "good": "good.png",
    }
    table = write_table(src / "t.csv", [{"id": k, "image": v} for k, v in cells.items()])
    out = tmp_path / "ds"
    code, stdout, _ = fetch(capsys, table, out, "--max-mb", "0.1")
    assert code == 0
    assert "see --max-mb" in stdout.replace("\n", " ")  # the CLI names the option for a hint

    fails = failures_of(out)
    kinds = {
        "dev_zero": "a character device",
        "urandom_uri": "a character device",
        "fifo": "a pipe (FIFO)",
        "folder": "a folder",
        "link_to_device": "a character device",
    }
    for id_, kind in kinds.items():
        reason, attempts, detail = fails[id_]
        assert (reason, attempts) == ("not-a-file", 1), id_
        assert detail.endswith(f" is {kind}, not a regular file"), detail
    assert fails["big"][0] == "too-large" and "104,857-byte limit" in fails["big"][2]
    assert sorted(fails) == sorted(set(cells) - {"good"})
    assert [p.name for p in (out / "posters").iterdir()] == ["good.png"]  # no temp file left
    report = json.loads((out / "fetch" / "report.json").read_text())
    assert report["failures_by_reason"] == {"not-a-file": 5, "too-large": 1}
    assert report["hints"]["not-a-file"] and report["options"]["max_bytes"] == 104_857


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_local_reads_stop_at_the_limit_when_the_size_is_not_known(tmp_path):
    """Files in /proc say they are 0 bytes: only reading in bounded chunks catches them."""
    assert os.stat("/proc/self/status").st_size == 0
    tmp = tmp_path / "part"
    with pytest.raises(FetchFailure) as e:
        copy_local("/proc/self/status", tmp, max_bytes=64)
    assert e.value.reason == "too-large" and "64-byte limit" in e.value.detail
    assert tmp.stat().st_size <= 64
    with pytest.raises(FetchFailure) as e:
        copy_local(str(tmp_path / "nope.jpg"), tmp, max_bytes=64)
    assert e.value.reason == "missing-file" and "No such file" in e.value.detail


# --------------------------------------------------------------------------- numeric options

BAD_OPTIONS = [
    ("--concurrency", "0"),
    ("--concurrency", "-1"),
    ("--concurrency", "100000"),
    ("--per-host", "0"),
    ("--per-host", "-1"),
    ("--per-host", "1000000"),
    ("--delay", "-1"),
    ("--delay", "1e9"),
    ("--timeout", "0"),
    ("--timeout", "-1"),
    ("--timeout", "1e9"),
    ("--timeout", "nan"),
    ("--retries", "-1"),
    ("--retries", "1000"),
    ("--max-mb", "0"),
    ("--max-mb", "-1"),
    ("--max-mb", "1e9"),
    ("--max-mb", "inf"),
    ("--max-redirects", "-1"),
    ("--max-redirects", "1000"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_OPTIONS)
def test_out_of_range_options_are_one_line_errors(tmp_path, capsys, table, flag, value):
    out = tmp_path / "ds"
    code, stdout, err = fetch(capsys, table, out, flag, value)
    assert code == 2 and not stdout
    line = one_line_error(err, f"error: {flag} must be between ")
    assert float(line.rsplit(" got ", 1)[1]) == pytest.approx(float(value), nan_ok=True)
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        ("concurrency", 0, "must be between 1 and 256"),
        ("concurrency", 2.5, "must be a whole number"),
        ("retries", True, "must be a whole number"),
        ("max_mb", float("nan"), "must be between 0.001 and 64 MB"),
        ("max_mb", "20", "must be a number"),
        ("deadline", 0, "must be between 0.01 and 10800 s"),
        ("backoff", -0.5, "must be between 0 and 3600 s"),
    ],
)
def test_the_library_checks_settings_and_names_them_its_own_way(setting, value, problem):
    with pytest.raises(OptionError) as e:
        FetchOptions(**{setting: value})
    assert isinstance(e.value, UserError) and e.value.option == setting
    assert str(e.value).startswith(f"{setting} {problem}") and "--" not in str(e.value)


def test_zero_retries_and_zero_redirects_mean_none(tmp_path, capsys, posters_server):
    rows = [
        {"id": "down", "image": posters_server.url("error/a.png")},
        {"id": "moved", "image": posters_server.url("redirect/a.png")},
        {"id": "ok", "image": posters_server.url("img/a.png")},
    ]
    table = write_table(tmp_path / "t.csv", rows)
    out = tmp_path / "ds"
    code, _, _ = fetch(capsys, table, out, "--json", "--retries", "0", "--max-redirects", "0")
    assert code == 0
    fails = failures_of(out)
    assert fails["down"][:2] == ("http-503", 1) and posters_server.hits["/error/a.png"] == 1
    assert fails["moved"][:2] == ("too-many-redirects", 1)
    assert posters_server.hits["/img/a.png"] == 1  # not reached through the redirect
    assert sorted(p.name for p in (out / "posters").iterdir()) == ["ok.png"]


@pytest.fixture
def posters_server(tmp_path):
    data = save_image(tmp_path / "a.png", fmt="PNG").read_bytes()
    with FaultServer({"a.png": data}) as s:
        yield s


# --------------------------------------------------------------------------- tables and --out


def test_an_empty_table_is_a_one_line_error(tmp_path, capsys):
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,image\n")
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("")
    for path in (header_only, nothing):
        code, _, err = fetch(capsys, path, tmp_path / "ds")
        assert code == 2
        one_line_error(err, str(path), "empty table")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("rows", "args", "needles"),
    [
        ([{"id": "a", "title": "x"}], [], ["no poster URL column found", "--url-column"]),
        ([{"title": "x", "image": "a.png"}], [], ["no id column found", "--id-column"]),
        (
            [{"id": "a", "image": "a.png"}],
            ["--url-column", "poster"],
            ["no column 'poster' (given by --url-column); columns are: id, image"],
        ),
        (
            [{"id": "a", "image": "a.png"}],
            ["--id-column", "imdb"],
            ["no column 'imdb' (given by --id-column)"],
        ),
    ],
)
def test_a_missing_column_is_a_one_line_error(tmp_path, capsys, rows, args, needles):
    table = write_table(tmp_path / "t.csv", rows)
    code, _, err = fetch(capsys, table, tmp_path / "ds", *args)
    assert code == 2
    one_line_error(err, str(table), *needles)


def test_the_library_names_the_column_argument_not_the_flag(tmp_path):
    table = write_table(tmp_path / "t.csv", [{"id": "a", "title": "x"}])
    with pytest.raises(OptionError) as e:
        fetch_table(table, tmp_path / "ds", progress=False)
    assert e.value.option == "url_column" and str(e.value).endswith("name it with url_column")


def test_out_naming_a_file_is_a_one_line_error(tmp_path, capsys, table):
    existing = tmp_path / "report.txt"
    existing.write_text("keep me")
    code, _, err = fetch(capsys, table, existing)
    assert code == 2
    one_line_error(err, f"{existing}: is a file, not a folder")
    assert existing.read_text() == "keep me"

    code, _, err = fetch(capsys, table, existing / "ds")  # a folder below a file
    assert code == 2
    one_line_error(err, f"{existing / 'ds'}: {existing} is a file, not a folder")


def test_filters_that_keep_no_row_make_an_empty_report(tmp_path, capsys):
    table = write_table(
        tmp_path / "t.csv", [{"id": "a", "image": "a.png", "year": "1950"}, {"image": "b.png"}]
    )
    out = tmp_path / "ds"
    code, stdout, _ = fetch(capsys, table, out, "--json", "--years", "1990-2000")
    assert code == 0
    report = json.loads(stdout)
    assert report["rows_in_table"] == 2 and report["rows_selected"] == 0
    assert report["posters"] == {"present": 0, "downloaded": 0, "already_present": 0, "failed": 0}
    assert [s["removed"] for s in report["filters"]] == [2]
