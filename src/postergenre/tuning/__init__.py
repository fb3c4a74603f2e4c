"""Hyperparameter search (``postergenre tune``).

(search spaces are declared in models.space, next to the models that offer them)
study   the Optuna study: CV objective on the training part only, storage, resume, reports
"""

from ..models.space import Categorical, Float, Int, SearchSpace

__all__ = ["Categorical", "Float", "Int", "SearchSpace"]
