"""The web app: a JSON API and a page over one loaded bundle (``postergenre serve``).

app       ``create_app``: routes, error handling, the page and its static files
uploads   uploads -> records the bundle reads (sniffed, size- and pixel-limited)
batching  request batching: concurrent requests share graph runs on a few threads
explain   occlusion sensitivity heatmaps through the bundle's own graph
index     the comparable-films index written into a bundle, and its queries
limits    every cap in one object, and the middleware that enforces the request-level ones
schemas   response bodies and their OpenAPI examples
"""

from ..bundle.similar import SimilarIndex, build_index, index_dataset, index_run
from .app import create_app
from .limits import Limits

__all__ = ["Limits", "SimilarIndex", "build_index", "create_app", "index_dataset", "index_run"]
