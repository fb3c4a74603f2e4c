"""Every int/float option of every command (found by walking the Typer app) at 0, -1 and
10**12 (floats also at nan and inf): refused before any work, in one stderr line naming the
option or the value with exit code 2, or accepted where the command's --help says so. The
numeric settings of a config file (the model sections' fields) are held to the same rule.

Nothing here trains: an accepted value runs into a split made for another dataset version
(train, tune) or a missing table (data fetch), which the command reports only after it has
validated its options.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import fields

import click
import pytest
import typer.main

from postergenre.cli import app, main
from postergenre.data.splits import Split
from postergenre.models.finetune import FineTuneConfig
from postergenre.models.fusion import FusionConfig
from postergenre.models.heads import HeadConfig
from postergenre.models.seed_cnn import SeedCNNConfig
from postergenre.training import TrainConfig

from .bundles import build_bundle
from .test_compare import fake_run
from .test_train import colour_dataset

VALUES = (0, -1, 10**12)
FLOAT_VALUES = (*VALUES, "nan", "inf")
# (command, option, value) -> the words of the option's --help that document the acceptance
ACCEPTED = {
    ("data split", "--seed", 0): "0 to 2**32 - 1",  # seeds start at 0
    ("data fetch", "--delay", 0): "0: none",  # no pause between requests to one host
    ("data fetch", "--retries", 0): "0: none",  # one attempt per poster
    ("data fetch", "--max-redirects", 0): "0: a redirect is a failure",
    ("train", "--seed", 0): "0 to 2**32 - 1",
    ("tune", "--seed", 0): "0 to 2**32 - 1",
    ("tune", "--timeout", 10**12): "N > 0",  # no practical limit: the trials end the run
    ("report", "--seed", 0): "0 to 2**32 - 1",
}
# what an accepted value runs into once the options are validated (exit 0 where absent)
STOPPED_BY = {"train": "another version", "tune": "another version",
              "data fetch": "no such file", "report": "missing-run"}
# (section, field, value) accepted in a config file, with the reason
CONFIG_ACCEPTED = {
    **{(s, f, 0): "no regularisation" for s, f in [
        ("head", "dropout"), ("head", "input_dropout"), ("head", "weight_decay"),
        ("seed_cnn", "weight_decay"), ("seed_cnn", "conv_dropout"),
        ("seed_cnn", "dense_dropout"), ("finetune", "weight_decay"), ("finetune", "jitter")]},
    **{(s, "seed", 0): "seeds start at 0" for s in ("head", "seed_cnn", "finetune", "fusion")},
    **{("fusion", f, 0): "no regularisation" for f in (
        "dropout", "input_dropout", "weight_decay", "drop", "poster_only")},
    ("fusion", "project", 0): "documented: 0 feeds the inputs to the MLP unprojected",
    ("head", "per_input", 0): "documented: 0 is the joint head alone",
    ("fusion", "companion", 0): "documented: 0 turns the companion off",
    ("finetune", "train_blocks", 0): "the backbone stays frozen: only the head learns",
    ("finetune", "train_blocks", -1): "documented: -1 trains the whole network",
}
SECTIONS = {"head": HeadConfig, "seed_cnn": SeedCNNConfig, "finetune": FineTuneConfig,
            "fusion": FusionConfig}
MODEL_OF = {"head": "head", "seed_cnn": "seed-cnn", "finetune": "finetune", "fusion": "fusion"}


def commands(group: click.Group | None = None, prefix: tuple[str, ...] = ()):
    """(name, click command) of every command of the app, sub-commands included."""
    group = group or typer.main.get_command(app)
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), command


def numeric_options(command: click.Command) -> list[click.Option]:
    kinds = (click.types.IntParamType, click.types.FloatParamType)
    return [p for p in command.params if isinstance(p, click.Option) and isinstance(p.type, kinds)]


def cases() -> list[tuple[str, str, object]]:
    return [(name, option.opts[0], value) for name, command in commands()
            for option in numeric_options(command)
            for value in (FLOAT_VALUES if isinstance(option.type, click.types.FloatParamType)
                          else VALUES)]


def named(line: str, option: str, value) -> bool:
    """Does the message name the option (as --flag, flag_name or flag-name) or the value?"""
    names = {option, option.lstrip("-"), option.lstrip("-").replace("-", "_")}
    return any(n in line for n in names) or bool(
        re.search(rf"(?<![\w.-]){re.escape(str(value))}(\.0)?(?![\w.])", line))


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """A tiny dataset, a split of "another version" of it, a toy bundle and a run folder."""
    root = tmp_path_factory.mktemp("numbers")
    colour_dataset(root / "data", n=24)
    ids = [f"tt{i:04d}" for i in range(24)]
    Split({i: "test" if k < 6 else f"fold{k % 3}" for k, i in enumerate(ids)}, 3, 0.25, 0,
          "another-version").save(root / "foreign.json")
    build_bundle(root / "bundle")
    fake_run(root / "runs" / "a", "head", "abc", 0.3)
    return root


def argv_of(command: str, root, tmp) -> tuple[list[str], object]:
    """Minimal valid arguments of ``command`` and the path that shows it started work."""
    data, foreign = str(root / "data"), str(root / "foreign.json")
    out = tmp / ("out.html" if command == "report" else "out")
    argv = {
        "data check": ["data", "check", data, "--out", str(out)],
        "data split": ["data", "split", data, "--out", str(out)],
        "data fetch": ["data", "fetch", str(tmp / "missing.csv"), "--out", str(out)],
        "train": ["train", data, "--out", str(out), "--split", foreign,
                  "--cache", str(tmp / "cache")],
        "predict": ["predict", str(root / "bundle"), str(root / "data/posters/tt0000.png")],
        "evaluate": ["evaluate", str(root / "bundle"), data, "--out", str(out)],
        "tune": ["tune", data, "--model", "seed-cnn", "--split", foreign, "--out", str(out),
                 "--cache", str(tmp / "cache")],  # a model with --image-size and --epochs
        "compare": ["compare", "--runs", str(root / "runs"), "--no-throughput",
                    "--out", str(out)],
        "index": ["index", str(root / "runs" / "a")],
        "report": ["report", str(tmp / "missing-run"), "--out", str(out)],
        "serve": ["serve", str(root / "bundle")],  # every value here is refused before serving
    }[command]
    return argv, out


def test_every_command_is_walked():
    found = {name: [o.opts[0] for o in numeric_options(c)] for name, c in commands()}
    assert set(found) == {"data check", "data split", "data fetch", "train", "predict",
                          "evaluate", "tune", "compare", "embed", "index", "report", "serve"}
    assert {"--folds", "--test", "--seed", "--min-support"} <= set(found["train"])
    assert {"--top", "--batch-size"} <= set(found["predict"])
    assert len(cases()) > 90


def test_every_acceptance_is_in_the_help():
    options = {(name, o.opts[0]): o for name, c in commands() for o in numeric_options(c)}
    for (command, option, _), words in ACCEPTED.items():
        assert words in (options[command, option].help or ""), (command, option, words)


@pytest.mark.parametrize("command, option, value", cases())
def test_numeric_option(fx, tmp_path, capsys, command, option, value):
    argv, out = argv_of(command, fx, tmp_path)
    code = main([*argv, option, str(value)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.out + captured.err
    if (command, option, value) in ACCEPTED:
        assert code in (0, 1, 2), captured.err
        if command in STOPPED_BY:  # validated, then stopped by what the fixture set up
            assert code == 2 and STOPPED_BY[command] in captured.err, captured.err
        else:
            assert code == 0, captured.err
        return
    assert code == 2 and len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and named(lines[0], option, value), lines[0]
    assert not out.exists(), "refused only after starting work"


def config_cases() -> list[tuple[str, str]]:
    out = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        out += [(section, f.name) for f in fields(cls)
                if hints[f.name] in (int, float, list[int])]
    return out


def test_config_cases_cover_the_model_sections():
    got = set(config_cases())
    assert {("head", "batch_size"), ("head", "hidden"), ("head", "lr"), ("head", "dropout"),
            ("seed_cnn", "image_hw"), ("finetune", "max_epochs")} <= got


@pytest.mark.parametrize("section, name", config_cases())
def test_config_number(fx, tmp_path, capsys, section, name):
    """A config file's number out of range is refused by the section's dataclass, in one line
    that names the file and the setting, before the dataset is read."""
    for value in (0, -1, 10**12, float("nan"), float("inf")):
        config = TrainConfig.of(MODEL_OF[section]).to_json()
        config[section][name] = [value, value] if name == "image_hw" else value
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        argv, out = argv_of("train", fx, tmp_path)
        code = main([*argv, "--config", str(path)])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert "Traceback" not in err and len(lines) == 1, (value, err)
        if (section, name, value) in CONFIG_ACCEPTED:
            assert code == 2 and STOPPED_BY["train"] in err, (value, err)
            continue
        assert code == 2 and str(path) in lines[0] and name in lines[0], (value, lines[0])
        assert not out.exists()
