"""Training a model on a dataset: the ``train`` job and its parts.

config  ``TrainConfig``, validated where it is received
inputs  the named inputs and labels of a split's movies (``load_inputs``)
cv      cross-validation on the training part and the final model
run     the run folder, written whole or not at all
job     ``train``: all of it, then the bundle
"""

from .config import TrainConfig
from .cv import CVResult, cross_validate, final_model
from .inputs import ModelData, load_inputs
from .job import train
from .run import COMPLETE, is_complete

__all__ = ["COMPLETE", "CVResult", "ModelData", "TrainConfig", "cross_validate", "final_model",
           "is_complete", "load_inputs", "train"]
