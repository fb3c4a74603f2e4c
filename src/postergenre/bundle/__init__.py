"""The model bundle: one ONNX graph (canvas pixels → genre probabilities) plus ``bundle.json``."""

from .io import BUNDLE_FORMAT, Bundle, load_bundle, write_bundle

__all__ = ["BUNDLE_FORMAT", "Bundle", "load_bundle", "write_bundle"]
