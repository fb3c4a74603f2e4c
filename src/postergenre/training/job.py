"""``postergenre train``: cross-validate a model, make the final one, test it once.

One movie's path: record -> the inputs its model reads (cached per content: a poster's
backbone embeddings, say) -> the model -> probabilities -> the decision rule. CV runs on the
training part only (``cv``); the test part is scored once, at the end; the run folder
(``run``) and its bundle appear whole or not at all.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..bundle import load_bundle, write_bundle
from ..bundle.graph import export_bundle_graph, fields_of
from ..bundle.io import add_metrics, package_versions
from ..bundle.similar import index_dataset, index_films
from ..cache import default_cache_dir
from ..data.dataset import Dataset
from ..data.splits import TEST, load_or_make_split
from ..data.vocab import build_vocabulary
from ..errors import UserError
from ..evaluation import compute_metrics, evaluate_baselines, summarise_folds
from ..evaluation.rules import DecisionRules
from ..features.backbones import resolve
from ..features.embeddings import backbone_graph
from ..features.ocr import poster_texts
from ..features.producer import Engine
from ..features.specs import FIELDS, BackboneEmbedding, InputSpec
from ..features.text import clean
from ..models.registry import get_model
from ..predict import predict_records, table_records
from .ablation import ablation, cv_ablation, given_fields
from .config import TrainConfig
from .cv import cross_validate, final_model
from .history import History
from .inputs import load_inputs
from .record import RunRecord
from .run import check_out, staged, write_results


def train(ds: Dataset, out: Path, split_path: Path | None = None,
          config: TrainConfig | None = None, cache_dir: Path | None = None,
          progress: bool = True, engine: Engine | None = None) -> RunRecord:
    """Run the whole job and write the run folder; returns the record written as metrics.json.
    The inputs missing from the cache are made here, or by ``engine`` (``features.engine``).

    Without ``split_path`` the split is ``out/split.json``: reused if that run has one, else
    made now (seeded by ``config.seed``) and written with the run.
    """
    config = config or TrainConfig()
    cache_dir = cache_dir or default_cache_dir()
    check_out(out)
    if split_path is not None and split_path.is_dir():
        raise UserError(f"{split_path}: is a folder; --split names a split file")
    choice = get_model(config.model)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with staged(out) as stage:
        if split_path is None:  # the run's own split: kept from the run it replaces
            kept = out / "split.json"
            split, made = load_or_make_split(ds, kept if kept.exists() else stage / "split.json",
                                             config.folds, config.test, config.seed)
            split.save(stage / "split.json")
            split_path = kept
        else:
            split, made = load_or_make_split(ds, split_path, config.folds, config.test,
                                             config.seed)
        config = config.for_split(split.folds)
        train_genres = [g for i, g in zip(ds.labelled["id"], ds.labelled["genres"], strict=True)
                        if split.parts.get(i, TEST) != TEST]
        vocab = build_vocabulary(train_genres, config.min_support)
        if not vocab.genres:
            raise UserError(f"{ds.root}: no genre has {config.min_support} training examples "
                            "(lower --min-support)")
        genres = vocab.genres
        data = load_inputs(ds, split, vocab, config, cache_dir, progress, engine)
        if not len(data.ids):
            raise UserError(f"{ds.root}: no labelled movie in the split has every input the "
                            f"model needs ({len(data.failures)} files unusable)")
        timings["features_s"] = time.perf_counter() - t0

        t1 = time.perf_counter()
        try:
            cv = cross_validate(data, config, genres)
        except ValueError as e:
            raise UserError(f"{ds.root}: {e}") from None
        timings["cross_validation_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        model, rules, chosen, round_rules = final_model(data, config, cv)
        timings["final_fit_s"] = time.perf_counter() - t2

        train_mask, test_mask = data.parts != TEST, data.parts == TEST
        cv_summary = summarise_folds(cv.fold_metrics)
        t3 = time.perf_counter()
        sources = data.specs
        graph_file = export_bundle_graph(model, sources, data.fitted, stage / "graph.onnx")
        declared = [_declare(field, [s for s in sources if s.field.name == field], data.fitted)
                    for field in fields_of(sources)]
        info = {
            "model": choice.describe(config.settings),
            "vocabulary": vocab.to_json(),
            "data": {"dataset": str(ds.root.resolve()), "dataset_fingerprint": ds.fingerprint(),
                     "split_file": str(split_path), "split_seed": split.seed,
                     "split_fingerprint": split.digest(),
                     "n_train": int(train_mask.sum()), "n_test": int(test_mask.sum())},
        }
        bundle = write_bundle(stage / "model", graph_file, genres, rules, declared, info)
        graph_file.unlink()
        first = next((s for s in sources if isinstance(s, BackboneEmbedding)), None)
        if first is not None:  # comparable films for the web app, from the model's own input
            name = resolve(first.backbone).name
            train_ids = list(np.array(data.ids)[train_mask])
            if first.tta:  # queries are not flipped: unflipped rows
                index_dataset(bundle, ds, train_ids, [name], cache_dir, progress=progress)
            else:
                encoder = first.graph_file(data.fitted[first.name]) or backbone_graph(name,
                                                                                    cache_dir)
                index_films(bundle, ds, train_ids, data.inputs.arrays[first.name][train_mask],
                            {name: encoder}, about={"backbones": [name],
                                                    "precision": first.precision},
                            progress=progress)
        timings["bundle_s"] = time.perf_counter() - t3

        # the test part is scored once, from its cached inputs; the bundle (what evaluate and
        # predict run) must give the same probabilities for a sample of those movies
        t4 = time.perf_counter()
        test_rows = ds.frame.set_index("id").loc[np.array(data.ids)[test_mask]].reset_index()
        test_inputs = data.inputs.take(test_mask)
        probs, pred = rules.apply(model.predict_proba(test_inputs).astype(np.float32),
                                  given_fields(test_inputs, sources))
        _check_bundle(bundle, test_rows, probs, genres, cache_dir, config.seed)
        test_metrics = compute_metrics(data.y[test_mask], probs, pred, genres)
        has_plot = np.array([bool(clean(v)) for v in test_rows["plot"]]) if "plot" in \
            test_rows else np.zeros(len(test_rows), bool)
        by_inputs, shifts = ablation(model, test_inputs, data.y[test_mask], rules, genres,
                                     sources, has_plot, config.seed)
        timings["test_s"] = time.perf_counter() - t4
        timings["total_s"] = time.perf_counter() - t0

        settings = choice.label(config.settings)
        if config.train_subset:
            settings += f", subset {config.train_subset}"
        summary = {
            "postergenre": __version__,
            "config": config.to_json(),
            "model": {"name": choice.name, "summary": choice.summary, "settings": settings,
                      "device": choice.device(config.settings), "train_subset": config.train_subset,
                      "cv_rounds": len(cv.fold_metrics), "final": config.final_model,
                      "inputs": [s.name for s in data.specs]},
            "split": {"file": str(split_path), "made_now": made, "folds": split.folds,
                      "seed": split.seed, "fingerprint": split.fingerprint},
            "data": {"dataset": str(ds.root.resolve()), "labelled_in_split": len(split.parts),
                     "skipped_files": data.failures, "inputs": data.notes,
                     "genres": genres, "dropped_genres": vocab.dropped, "notes": ds.notes,
                     "n_train": int(train_mask.sum()), "n_test": int(test_mask.sum())},
            "cv": {"folds": cv.fold_metrics, "summary": cv_summary,
                   "best_epochs": cv.best_epochs, "final": _final_text(config, cv)},
            "decision": _decision(rules, chosen),
            "test": test_metrics,
            "baselines": evaluate_baselines(data.y[train_mask], data.y[test_mask], genres),
            "ablation": by_inputs,
            "ablation_cv": cv_ablation(cv.models, round_rules, data.inputs, data.y, cv.scored,
                                       genres, sources),
            "timings": timings,
            "versions": package_versions(),
            "calibration": shifts,
        }
        record = RunRecord.from_json(summary, "the run's metrics.json")  # readable once written
        add_metrics(bundle, record.headline().to_json())
        write_results(stage, record, History.of(cv.histories, model.history),
                      list(np.array(data.ids)[test_mask]), data.y[test_mask], probs, pred, genres)
    return record


def _declare(field: str, specs: list[InputSpec], fitted: dict) -> dict:
    """The bundle's declaration of one record field and the inputs made from it."""
    spec = FIELDS[field]
    return {"name": field, "type": spec.type, "required": any(s.required for s in specs),
            "preprocessing": {**spec.preprocessing,
                              "inputs": {s.name: s.describe(fitted[s.name]) for s in specs}}}


def _decision(rules: DecisionRules, chosen: dict) -> dict:
    """The run record's decision: the rule of a record with every input, the calibration
    method and how it was chosen, and every input set's rule."""
    return {**rules.full.rule.to_json(),
            "fitted_on": "out-of-fold CV predictions, per set of inputs given",
            "calibration": chosen["method"], "methods": chosen["methods"] or None,
            "sets": [{"inputs": list(s.inputs), "thresholds": s.rule.to_json()["thresholds"],
                      "max_genres": s.rule.max_genres, "fitted_on": s.fitted_on,
                      "source": None if s.source is None else list(s.source)}
                     for s in rules.sets]}


def _final_text(config: TrainConfig, cv) -> str:
    if config.final_model == "cv-ensemble":
        return "average of the CV fold models"
    return f"refit on all training folds for {max(1, int(np.median(cv.best_epochs)))} epochs"


def _check_bundle(bundle_dir: Path, rows, probs: np.ndarray, genres: list[str],
                  cache_dir: Path, seed: int, n: int = 48, tolerance: float = 1e-4) -> None:
    """The bundle's probabilities for ``n`` of the movies ``rows`` (drawn by ``seed``) must be
    the trained model's ``probs``: the shipped graph is what was scored."""
    sample = np.sort(np.random.default_rng(seed).permutation(len(rows))[:n])
    got = _bundle_probabilities(bundle_dir, rows.iloc[sample], genres, cache_dir)
    gap = np.abs(got - probs[sample]).max(initial=0.0)
    if gap > tolerance:
        raise RuntimeError(f"{bundle_dir}: the bundle's probabilities differ from the trained "
                           f"model's by {gap:.3g} on test movies")


def _bundle_probabilities(bundle_dir: Path, rows, genres: list[str], cache_dir: Path
                          ) -> np.ndarray:
    """The bundle's probabilities for the movies ``rows``; their posters' text, read during
    training, comes from the cache rather than being read again."""
    records = table_records(rows)
    bundle = load_bundle(bundle_dir)
    if any(i["name"] == "ocr" for i in bundle.inputs):
        texts, _ = poster_texts(list(rows["path"]), list(rows["sha256"]), cache_dir,
                                progress=False)
        for record, text in zip(records, texts, strict=True):
            record["ocr"] = text
    preds = list(predict_records(bundle, records, list(rows["id"])))
    failed = [p for p in preds if p.error]
    if failed:
        raise UserError(f"{failed[0].source}: {failed[0].error} (it decoded during training)")
    scored = [p.probabilities for p in preds if p.probabilities is not None]  # every one
    return np.array([[probs[g] for g in genres] for probs in scored], dtype=np.float32)
