"""The run record: what a run folder's ``metrics.json`` holds, typed.

``train`` writes it through ``RunRecord.to_json``; ``compare``, ``report``, ``serve`` and the
CLI read it through ``read_record``, which validates the whole document first (its
``history.json``: ``training.history``): an unknown or missing key, a string, NaN or infinity
where a number belongs, or a list where an object belongs is a ``UserError`` naming the file
and the key (``runs/x/metrics.json: test.macro_map must be a finite number, not 'inf'``).
So no reader ranks or prints a number that failed validation.

    postergenre  the package version       data         dataset, counts, genres, notes
    config       the TrainConfig JSON       cv           fold scores, their summary, epochs
    model        name, settings, inputs     decision     the decision rule, fitted on what
    split        the split file, seed       test         scores on the test part (once)
    baselines    no-information scores      ablation(_cv) inputs withheld (or null)
    timings      seconds per stage          versions     python and packages (newer runs)

The layout is the one ``train`` has always written; ``versions`` may be absent (older runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..evaluation.metrics import HEADLINE_KEYS
from .typed_json import Invalid, Typed

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class Stats(Typed):
    """One metric across CV rounds: mean and sample std of the rounds that define it."""

    mean: float | None
    std: float | None
    n: int


@dataclass(frozen=True)
class MeanStd(Typed):
    mean: float
    std: float


@dataclass(frozen=True)
class GenreScores(Typed):
    support: int
    prevalence: float
    predicted: int
    ap: float | None  # None: no positive in the set
    roc_auc: float | None
    f1: float
    precision: float
    recall: float


@dataclass(frozen=True)
class Scores(Typed):
    """``evaluation.compute_metrics`` on one evaluation set."""

    n_samples: int
    n_genres: int
    macro_map: float | None
    micro_ap: float | None
    macro_roc_auc: float | None
    micro_f1: float
    macro_f1: float
    weighted_f1: float
    samples_f1: float
    micro_precision: float
    macro_precision: float
    micro_recall: float
    macro_recall: float
    hamming_loss: float
    subset_accuracy: float
    label_cardinality_true: float
    label_cardinality_pred: float
    ap_skipped_genres: list[str]
    roc_auc_skipped_genres: list[str]
    per_genre: dict[str, GenreScores]
    ece: float | None = field(default=None, kw_only=True)  # 10 equal-width bins
    brier: float | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class BaselineRule(Typed):
    name: str
    rule: str
    label_set: list[str]


@dataclass(frozen=True)
class BaselineScores(Scores):
    baseline: BaselineRule


@dataclass(frozen=True)
class FoldSummary(Typed):
    """``evaluation.summarise_folds``: every scalar score and per-genre AP across rounds."""

    n_folds: int
    metrics: dict[str, Stats]
    per_genre_ap: dict[str, Stats]


@dataclass(frozen=True)
class CV(Typed):
    folds: list[Scores]
    summary: FoldSummary
    best_epochs: list[int]
    final: str  # how the final model was made, in words


@dataclass(frozen=True)
class Model(Typed):
    name: str
    summary: str
    settings: str | None  # one line for leaderboards (None: not recorded)
    device: str
    train_subset: int | None
    cv_rounds: int
    final: str
    inputs: list[str]


@dataclass(frozen=True)
class SplitInfo(Typed):
    file: str
    made_now: bool
    folds: int
    seed: int
    fingerprint: str


@dataclass(frozen=True)
class Data(Typed):
    dataset: str
    labelled_in_split: int
    skipped_files: dict[str, str]  # file -> why its movie was left out
    inputs: list[str]  # notes: how many movies have each input
    genres: list[str]  # the genres the model predicts, in output order
    dropped_genres: dict[str, int]  # too rare to train on, with their support
    notes: list[str]
    n_train: int
    n_test: int


@dataclass(frozen=True)
class DecisionSet(Typed):
    """One set of given optional fields: its rule and what it was fitted on."""

    inputs: list[str]
    thresholds: list[float]
    max_genres: int | None
    fitted_on: int  # training movies; 0: it took the rule of ``source``
    source: list[str] | None


@dataclass(frozen=True)
class Decision(Typed):
    """The rule of a record with every input (``thresholds``, ...); ``sets``: every set's."""

    type: str
    thresholds: list[float]  # one per genre
    max_genres: int | None
    at_least_one: bool
    fitted_on: str
    calibration: str | None = None  # the method, chosen on out-of-fold predictions
    methods: dict[str, dict[str, float]] | None = None  # method -> cross-fitted ece, brier
    sets: list[DecisionSet] | None = None


@dataclass(frozen=True)
class AblationPart(Typed):
    macro_map: float | None
    macro_f1: float
    micro_f1: float
    n: int
    ece: float | None = None
    brier: float | None = None


@dataclass(frozen=True)
class Reliability(Typed):
    """Equal-width bins of (movie, genre) pairs (an empty bin's means are null), the ECE and
    Brier score with their 95% bootstrap intervals."""

    count: list[int]
    confidence: list[float | None]
    observed: list[float | None]
    ece: float
    brier: float
    ece_ci: list[float]
    brier_ci: list[float]


@dataclass(frozen=True)
class CalibrationShift(Typed):
    """One set of inputs on the test part: the model's scores and the calibrated ones."""

    before: Reliability
    after: Reliability


@dataclass(frozen=True)
class RunRecord(Typed):
    """``metrics.json``."""

    postergenre: str
    config: dict[str, Any]  # ``TrainConfig.to_json()``
    model: Model
    split: SplitInfo
    data: Data
    cv: CV
    decision: Decision
    test: Scores
    baselines: dict[str, BaselineScores]
    ablation: dict[str, dict[str, AblationPart]] | None  # inputs given -> part -> scores
    ablation_cv: dict[str, dict[str, MeanStd]] | None  # inputs given -> metric -> stats
    timings: dict[str, float]  # seconds
    versions: dict[str, str] | None = None
    calibration: dict[str, CalibrationShift] | None = None  # inputs given -> test reliability

    def check(self) -> None:
        genres = self.data.genres
        if len(set(genres)) != len(genres):
            raise Invalid("data.genres", "names a genre twice")
        n = len(self.decision.thresholds)
        if n != len(genres):
            raise Invalid("decision.thresholds",
                           f"must hold one number per genre ({len(genres)}), not {n}")
        missing = [g for g in genres if g not in self.test.per_genre]
        if missing:
            raise Invalid("test.per_genre", f"has no entry for genre {missing[0]!r}")
        if self.test.n_samples != self.data.n_test:
            raise Invalid("test.n_samples", f"must be the test movies' count (data.n_test, "
                          f"{self.data.n_test}), not {self.test.n_samples}")

    def headline(self) -> Headline:
        """The headline figures, as the bundle carries them."""
        cv = self.cv.summary.metrics
        return Headline({k: getattr(self.test, k) for k in HEADLINE_KEYS},
                        {k: cv[k] for k in HEADLINE_KEYS if k in cv})


@dataclass(frozen=True)
class Headline(Typed):
    """A bundle's ``metrics``: the headline figures of its run, test and CV."""

    test: dict[str, float | None]
    cv: dict[str, Stats]

    @classmethod
    def of_bundle(cls, meta: dict, source: str | Path) -> Headline | None:
        """The figures a bundle document records (None when it records none)."""
        if "metrics" not in meta:
            return None
        try:
            return cls.from_json(meta["metrics"])
        except UserError as e:
            raise UserError(f"{source}: metrics.{e}") from None


def read_record(run: Path) -> RunRecord:
    """The run folder's ``metrics.json``, validated (``UserError`` naming file and key)."""
    return RunRecord.read(run / METRICS_FILE)
