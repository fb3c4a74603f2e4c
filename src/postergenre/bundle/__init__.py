"""The model bundle: ONNX graph(s) from record fields to genre probabilities plus ``bundle.json``.

format  the format-2 document and its validation
graph   the model behind the modules that make its inputs, exported to ONNX
io      writing and loading bundles (checksums, compatibility)
"""

from .format import FORMAT as BUNDLE_FORMAT
from .io import Bundle, load_bundle, write_bundle

__all__ = ["BUNDLE_FORMAT", "Bundle", "load_bundle", "write_bundle"]
