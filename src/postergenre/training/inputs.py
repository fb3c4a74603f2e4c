"""The named inputs of a split's labelled movies, as the configured model reads them.

Each input the model reads (``ModelChoice.inputs``) is fitted on the training rows where it
learns something (``InputSpec.fit``), then made through the cache, once per content. A
movie lacking an optional input keeps its row with that input masked; a movie lacking a
required one (a poster that does not decode, for a poster model) is left out and reported in
``failures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.splits import TEST, Split
from ..data.vocab import Vocabulary, multi_hot
from ..errors import UserError
from ..features.inputs import Inputs
from ..features.producer import Engine, produce_files_together
from ..features.specs import InputSpec
from ..models.registry import get_model
from .config import TrainConfig


@dataclass
class ModelData:
    """Inputs and labels of the usable labelled movies of a split, one row each."""

    ids: list[str]
    parts: np.ndarray  # split part per row
    inputs: Inputs
    y: np.ndarray
    failures: dict[str, str]  # file -> why its movie was left out
    notes: list[str] = field(default_factory=list)  # how many movies have each optional input
    specs: list[InputSpec] = field(default_factory=list)  # the inputs made, in the model's order
    fitted: dict[str, Any] = field(default_factory=dict)  # input name -> its fitted state


def split_rows(ds: Dataset, split: Split, config: TrainConfig) -> pd.DataFrame:
    """The labelled movies of the split; with ``train_subset``, that many random training
    movies (seeded) and the whole test part."""
    rows = ds.labelled[ds.labelled["id"].isin(split.parts)].reset_index(drop=True)
    if config.train_subset:
        is_train = np.array([split.parts[i] != TEST for i in rows["id"]])
        train_ids = sorted(rows["id"][is_train])  # by id: the same subset with or without test
        if config.train_subset < len(train_ids):
            rng = np.random.default_rng(config.seed)
            keep = set(rng.choice(train_ids, config.train_subset, replace=False))
            rows = rows[~is_train | rows["id"].isin(keep).to_numpy()].reset_index(drop=True)
    return rows


def load_inputs(ds: Dataset, split: Split, vocab: Vocabulary, config: TrainConfig,
                cache_dir: Path, progress: bool = True, engine: Engine | None = None
                ) -> ModelData:
    """Make (or read from the cache) every input the configured model reads; what is missing
    is computed here or by ``engine``. An optional input no movie has is left out."""
    rows = split_rows(ds, split, config)
    rows["part"] = [split.parts[i] for i in rows["id"]]
    rows["train"] = rows["part"] != TEST  # int8 calibrates, the plot's TF-IDF fits on these
    arrays, masks, failures, notes = {}, {}, {}, []
    keep = np.ones(len(rows), bool)
    used = []
    specs = get_model(config.model).inputs(config.settings)
    fitted = {s.name: s.fit(rows, cache_dir) for s in specs}
    from_files = [p for s in specs if (p := s.producer(fitted[s.name], cache_dir)) is not None]
    if len(from_files) > 1 and engine is None:  # each poster decoded once for all of them
        produce_files_together(from_files, list(rows["path"]), list(rows["sha256"]), progress)
    for source in specs:
        array, mask, missing = source.make(fitted[source.name], rows, cache_dir, progress,
                                           engine)
        if not source.required and not mask.any():
            notes.append(f"{source.name}: no movie has a {source.field.name}; not used")
            continue
        used.append(source)
        arrays[source.name], masks[source.name] = array, mask
        if source.required:
            keep &= mask
            failures.update(missing)
        else:
            notes.append(f"{source.name}: {int(mask.sum())} of {len(mask)} movies have it")
            if missing:
                first = next(iter(missing.items()))
                notes.append(f"{source.name}: {len(missing)} value(s) treated as missing "
                             f"(e.g. {first[0]}: {first[1]})")
    if not used:
        raise UserError(f"{ds.root}: the dataset has none of the inputs the model reads "
                        f"({', '.join(s.field.name for s in specs)})")
    inputs = Inputs(arrays, masks)
    rows = rows[keep]
    return ModelData(
        ids=list(rows["id"]),
        parts=np.array([split.parts[i] for i in rows["id"]]),
        inputs=inputs.take(keep) if not keep.all() else inputs,
        y=multi_hot(rows["genres"], vocab.genres),
        failures=failures,
        notes=notes,
        specs=used,
        fitted={s.name: fitted[s.name] for s in used},
    )
