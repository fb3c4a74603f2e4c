"""``tune``: search spaces, resume after an interruption, two workers on one study, and the
test part never read."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from postergenre import training as train_module
from postergenre.data.dataset import load_dataset
from postergenre.data.splits import TEST, load_or_make_split
from postergenre.features import pixels
from postergenre.features.specs import base as inputs_module
from postergenre.models.registry import MODELS
from postergenre.models.space import Categorical, SearchSpace, set_path
from postergenre.training import TrainConfig
from postergenre.tuning.study import configure, get_space, training_part, tune

from .test_train import colour_dataset

GRID = {(a, o) for a in ("relu", "tanh", "linear") for o in ("sgd", "adagrad", "adam")}
SMALL_GRID = {("relu", "adam"), ("relu", "sgd"), ("tanh", "adam"), ("tanh", "sgd")}
SMALL = SearchSpace(
    "small-grid",
    "2 x 2, one epoch",
    {
        "seed_cnn.activation": Categorical(("relu", "tanh")),
        "seed_cnn.optimizer": Categorical(("adam", "sgd")),
    },
    fixed={"seed_cnn.max_epochs": 1},
)


@pytest.fixture(scope="module")
def posters(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    data = colour_dataset(root / "data", n=60)
    ds = load_dataset(data)
    load_or_make_split(ds, root / "split.json", folds=3, test=0.2)
    return root, data, ds


def tiny_seed_cnn(**changes) -> TrainConfig:
    return TrainConfig.of("seed-cnn", folds=3, min_support=5, **changes,
                          **{"seed_cnn.image_hw": [32, 32]})


def finished_points(storage: str, study: str) -> list[tuple]:
    s = optuna.load_study(study_name=study, storage=storage)
    done = s.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return [(t.params["seed_cnn.activation"], t.params["seed_cnn.optimizer"]) for t in done]


def test_search_spaces_are_declared_per_model_and_apply_to_the_config():
    grid = get_space("seed-cnn", "prototype-grid")
    assert grid.is_grid and grid.size() == 9
    assert {(p["seed_cnn.activation"], p["seed_cnn.optimizer"]) for p in grid.grid_points()} == GRID
    assert grid.fixed == {"seed_cnn.lr": 1e-3, "seed_cnn.batch_size": 10, "seed_cnn.max_epochs": 10}
    assert not get_space("seed-cnn", "wide").is_grid
    for name, choice in MODELS.items():
        assert choice.spaces, f"{name} declares no search space"
        for space in choice.spaces.values():
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
            for _ in range(3):
                params = space.suggest(study.ask())
                cfg = configure(TrainConfig.of(name), params)
                for path, value in params.items():
                    section, key = path.split(".")
                    assert getattr(getattr(cfg.settings, section), key) == value
    with pytest.raises(KeyError, match="no config setting"):
        set_path(TrainConfig.of("seed-cnn").to_json(), "seed_cnn.nope", 1)
    with pytest.raises(Exception, match="no search space"):
        get_space("seed-cnn", "nope")


def test_tune_never_reads_the_test_part(posters, tmp_path, monkeypatch):
    root, data, ds = posters
    split = load_or_make_split(ds, root / "split.json")[0]
    read: list[str] = []
    real = inputs_module.produce_files

    def recording(producer, paths, *args, **kwargs):
        read.extend(Path(p).stem for p in paths)
        return real(producer, paths, *args, **kwargs)

    monkeypatch.setattr(inputs_module, "produce_files", recording)
    tune(
        ds,
        root / "split.json",
        tiny_seed_cnn(),
        SMALL,
        trials=2,
        out=tmp_path / "t",
        cache_dir=root / "cache",
        progress=False,
        prune=False,
    )
    test_ids = set(split.ids(TEST))
    assert read and set(read) <= set(split.train_ids()) and not set(read) & test_ids
    ds_train, split_train = training_part(ds, split)  # what tune works on
    assert not set(ds_train.frame["id"]) & test_ids and TEST not in split_train.parts.values()
    best = json.loads((tmp_path / "t" / "best_config.json").read_text())
    assert TrainConfig.from_json(best).model == "seed-cnn"
    for name in ("trials.csv", "trials.md", "study.json", "plots/history.png"):
        assert (tmp_path / "t" / name).is_file(), name


def test_interrupted_tune_resumes_without_losing_trials(posters, tmp_path, monkeypatch):
    root, data, ds = posters
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    grid = SMALL_GRID
    space = SMALL
    real = train_module.cross_validate
    calls, interrupt = [], [True]

    def interrupted_on_3rd(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3 and interrupt:
            interrupt.clear()
            raise KeyboardInterrupt  # Ctrl-C in the middle of a trial
        return real(*args, **kwargs)

    kwargs = dict(
        storage=storage,
        study_name="s",
        out=tmp_path / "t",
        cache_dir=root / "cache",
        progress=False,
        prune=False,
    )
    monkeypatch.setattr(train_module, "cross_validate", interrupted_on_3rd)
    cfg = tiny_seed_cnn(cv_rounds=1).with_values({"seed_cnn.max_epochs": 1})
    with pytest.raises(KeyboardInterrupt):
        tune(ds, root / "split.json", cfg, space, **kwargs)
    assert len(finished_points(storage, "s")) == 2
    calls.clear()
    result = tune(ds, root / "split.json", cfg, space, **kwargs)
    assert len(calls) == 2  # only what was missing, the interrupted point included
    points = finished_points(storage, "s")
    assert sorted(points) == sorted(grid) and result.counts["complete"] == 4


def test_two_worker_processes_share_one_study(posters, tmp_path):
    root, data, ds = posters
    pixels.load_pixels(
        list(ds.frame["path"]), list(ds.frame["sha256"]), (32, 32), root / "cache", progress=False
    )  # both workers read the same cache
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    argv = [
        "tune",
        str(data),
        "--model",
        "seed-cnn",
        "--space",
        "prototype-grid",
        "--storage",
        storage,
        "--study",
        "shared",
        "--split",
        str(root / "split.json"),
        "--min-support",
        "5",
        "--image-size",
        "32",
        "--epochs",
        "2",
        "--no-prune",
        "--cv-rounds",
        "1",
        "--cache",
        str(root / "cache"),
    ]
    code = "import sys; from postergenre.cli import main; sys.exit(main(sys.argv[1:]))"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, *argv, "--out", str(tmp_path / f"w{i}")],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    start = time.time()
    errs = [w.communicate(timeout=240)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errs
    points = finished_points(storage, "shared")
    assert set(points) == GRID and len(points) <= 11, points  # a re-run per worker at most
    study = optuna.load_study(study_name="shared", storage=storage)
    by = {t.user_attrs.get("worker") for t in study.trials if t.state.is_finished()}
    assert len(by) == 2, f"one worker ran everything ({time.time() - start:.0f} s)"
