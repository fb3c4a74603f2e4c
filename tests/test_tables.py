"""benchmarks/tables.py: the headline table is rendered from run folders, and --check sees
a stale file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .records import fake_record

TABLES = Path(__file__).resolve().parents[1] / "benchmarks" / "tables.py"


def load_tables():
    spec = importlib.util.spec_from_file_location("bench_tables", TABLES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_record(folder: Path, model: str, test: dict) -> None:
    """A whole run record (``metrics.json``) with the ``test`` figures given."""
    record = fake_record(model, "abc123", 0.2, ["Drama", "Comedy", "Horror"])
    record["test"].update(test)
    best = record["baselines"].pop("best_constant")
    best.update(macro_map=0.09, macro_f1=0.048, micro_f1=0.395)
    best["baseline"]["label_set"] = ["Drama", "Comedy"]
    record["baselines"] = {"best_constant": best}
    (folder / "metrics.json").write_text(json.dumps(record))


def fake_run(folder: Path, model: str, test: dict) -> str:
    folder.mkdir()
    write_record(folder, model, test)
    return str(folder)


def test_headline_from_runs_and_check(tmp_path: Path, capsys) -> None:
    tables = load_tables()
    runs = [fake_run(tmp_path / "fusion", "fusion",
                     {"macro_map": 0.4321, "macro_f1": 0.4287, "micro_f1": 0.5634}),
            fake_run(tmp_path / "head", "head",
                     {"macro_map": 0.2961, "macro_f1": 0.3229, "micro_f1": 0.4913})]
    doc = tmp_path / "README.md"
    doc.write_text("# x\n\n<!-- table:headline -->\nold\n<!-- /table:headline -->\n\nend\n")
    files = ["--files", str(doc), "--results", str(tmp_path / "none")]

    assert tables.main(["--runs", *runs, "--check", *files]) == 1
    assert "old" in doc.read_text()  # --check changes nothing
    assert tables.main(["--runs", *runs, *files]) == 0
    text = doc.read_text()
    assert "old" not in text and text.startswith("# x\n") and text.endswith("\n\nend\n")
    for figure in ("0.432", "0.429", "0.563", "0.296", "0.323", "0.491"):
        assert figure in text
    assert "always {Drama, Comedy}" in text and "0.395" in text
    assert tables.main(["--runs", *runs, "--check", *files]) == 0

    # a run retrained with other figures makes the file stale
    write_record(Path(runs[1]), "head", {"macro_map": 0.31, "macro_f1": 0.33, "micro_f1": 0.5})
    assert tables.main(["--runs", *runs, "--check", *files]) == 1
    # an invalid record is refused with the file and the key, and nothing is written
    record = json.loads((Path(runs[1]) / "metrics.json").read_text())
    record["test"]["macro_f1"] = float("nan")
    (Path(runs[1]) / "metrics.json").write_text(json.dumps(record))
    before = doc.read_text()
    capsys.readouterr()
    assert tables.main(["--runs", *runs, *files]) == 2
    assert doc.read_text() == before
    assert capsys.readouterr().err.strip() == (
        f"tables: {runs[1]}/metrics.json: test.macro_f1 must be a finite number, not nan")
    # without --runs the headline is left alone
    assert tables.main(["--check", *files]) == 0


def test_benchmark_results_render(tmp_path: Path) -> None:
    tables = load_tables()
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_toy.json").write_text(json.dumps({
        "benchmark": "bench_toy", "measured": "2026-11-26T16:00:00+00:00", "commit": "82ef5e4",
        "command": "python benchmarks/bench_toy.py --n 8", "machine": {"cpus": 2},
        "results": {"posters": 400, "rates": [{"backbone": "lite0", "posters/s": 270.61}]}}))
    doc = tmp_path / "m.md"
    doc.write_text("<!-- table:bench_toy -->\n<!-- /table:bench_toy -->\n"
                   "<!-- table:bench_none -->\n<!-- /table:bench_none -->\n")
    assert tables.main(["--files", str(doc), "--results", str(results)]) == 0
    text = doc.read_text()
    assert "2026-11-26 at commit 82ef5e4" in text and "| lite0 | 271 |" in text
    assert "Not measured yet: `python benchmarks/bench_none.py`" in text
    assert tables.main(["--check", "--files", str(doc), "--results", str(results)]) == 0
