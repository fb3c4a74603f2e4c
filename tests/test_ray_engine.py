"""``--engine ray``: a local Ray cluster (2 CPUs, loopback) embeds posters exactly as the
local path does, a later local ``train`` reads them from the cache without running a
backbone, ``predict`` gives the same answers; and without Ray the option fails in one line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from postergenre.cli import main
from postergenre.data.dataset import load_dataset
from postergenre.features import embeddings
from postergenre.features.backbones import get_spec

from .test_train import colour_dataset

BACKBONE = "mobilenet_v2"  # the cheapest


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=200 << 20, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_embeddings_equal_local_ones_and_train_reads_them(ray_cluster, tmp_path,
                                                              monkeypatch, capsys):
    data = colour_dataset(tmp_path / "data", n=200)
    paths = list(load_dataset(data).frame["path"])
    local, failed = embeddings.embed(paths, None, BACKBONE, tmp_path / "local", progress=False)
    assert not failed and local.shape == (200, get_spec(BACKBONE).embedding_dim)

    argv = ["embed", str(data), "--backbones", BACKBONE, "--precision", "fp32", "--cache",
            str(tmp_path / "ray")]
    assert main([*argv, "--engine", "ray"]) == 0
    assert f"poster:{BACKBONE}: 200 of 200 posters" in capsys.readouterr().out

    def no_backbone(*args):
        raise AssertionError("a backbone ran although its embeddings are cached")

    monkeypatch.setattr(embeddings, "_session", no_backbone)
    remote, failed = embeddings.embed(paths, None, BACKBONE, tmp_path / "ray", progress=False)
    assert not failed and remote.dtype == np.float32
    assert np.array_equal(remote, local)  # bit for bit: the same graph on the same batches

    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--split", str(tmp_path / "split.json"),
                 "--folds", "3", "--cv-rounds", "1", "--min-support", "5", "--backbones",
                 BACKBONE, "--precision", "fp32", "--cache", str(tmp_path / "ray")]) == 0
    capsys.readouterr()

    posters = [str(p) for p in paths[:20]]
    answers = []
    for engine in ("local", "ray"):
        assert main(["predict", str(run / "model"), *posters, "--json",
                     "--engine", engine]) == 0
        answers.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
    assert answers[0] == answers[1] and [a["file"] for a in answers[1]] == posters


def test_engine_ray_without_ray_fails_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["embed", str(tmp_path), "--engine", "ray", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "pip install 'postergenre[ray]'" in err
