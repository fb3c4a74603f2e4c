"""Hyperparameter search (``postergenre tune``).

space   search-space declarations (light: model modules import it to declare their spaces)
study   the Optuna study: CV objective on the training part only, storage, resume, reports
"""

from .space import Categorical, Float, Int, SearchSpace

__all__ = ["Categorical", "Float", "Int", "SearchSpace"]
