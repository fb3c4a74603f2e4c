"""Hyperparameter search (``postergenre tune``); search spaces are declared in
``models.space``, next to the models that offer them.

storage     Optuna RDB storage shared by workers: heartbeats, retries, requeued lost trials
objective   the trial: CV on the training part only (the test part is cut off first), pruning
results     a study's results: trials table and markdown, study.json, plots, best_config.json
study       ``tune``: runs, joins or resumes a study, then writes its report
"""

from ..models.space import Categorical, Float, Int, SearchSpace
from .objective import CVObjective, configure, train_config, training_part, training_vocabulary
from .results import TuneResult, trials_table, write_report
from .storage import hide_password, open_storage, requeue_failed
from .study import get_space, tune

__all__ = [
    "CVObjective",
    "Categorical",
    "Float",
    "Int",
    "SearchSpace",
    "TuneResult",
    "configure",
    "get_space",
    "hide_password",
    "open_storage",
    "requeue_failed",
    "train_config",
    "training_part",
    "training_vocabulary",
    "trials_table",
    "tune",
    "write_report",
]
