"""Input specs: one module per record field (its ``Field`` and the model inputs made from it),
registered in ``registry``. Importing this package registers the built-in fields.

    poster  the canvas; backbone embeddings (``BackboneEmbedding``) and pixels (``Pixels``)
    title   MiniLM embedding          year   smooth encoding
    plot    TF-IDF genre scores       ocr    MiniLM of the poster's printed text (derived)

Adding an input is adding a module that declares its field and input spec and calls
``register``.
"""

from . import ocr, plot, poster, title, year
from .base import Field, InputSpec, Made, Unfitted
from .poster import BackboneEmbedding, Pixels, poster_canvas
from .registry import FIELDS, default_input, get_field, optional_fields, register

register(poster.POSTER)
register(title.TITLE, title.minilm)
register(year.YEAR, year.encoding)
register(plot.PLOT, plot.tfidf)
register(ocr.OCR, ocr.minilm)

__all__ = ["FIELDS", "BackboneEmbedding", "Field", "InputSpec", "Made", "Pixels", "Unfitted",
           "default_input", "get_field", "optional_fields", "poster_canvas", "register"]
