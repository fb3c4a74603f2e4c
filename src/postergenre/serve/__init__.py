"""The web app: a JSON API and a page over one loaded bundle (``postergenre serve``).

app       ``create_app``: the routers, the guard and the error handlers, assembled
service   what routes use: the model, its comparable films, the decode pool, the batcher
api       the JSON API's routes (``/v1/...``), stating in OpenAPI what each takes
pages     the page, its static files, the report; ``/docs`` served offline
details   the film-detail form fields, from the input registry
uploads   uploads -> records the bundle reads (sniffed, size- and pixel-limited)
batching  request batching: concurrent requests share graph runs on a few threads
explain   occlusion sensitivity heatmaps through the bundle's own graph
limits    every cap in one object; the one error a route raises
guard     the middleware that enforces the request-level caps (size, time, admission)
schemas   response bodies and their OpenAPI examples
"""

from ..bundle.similar import SimilarIndex, build_index, index_dataset, index_run
from .app import create_app
from .limits import Limits

__all__ = ["Limits", "SimilarIndex", "build_index", "create_app", "index_dataset", "index_run"]
