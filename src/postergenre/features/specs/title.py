"""The title: an optional text field, read as its MiniLM embedding (``title:minilm``)."""

from __future__ import annotations

from .minilm import MiniLMText, text_field

MAX_TOKENS = 32

TITLE = text_field("title", MAX_TOKENS, ("title", "primarytitle", "name", "movie_title"),
                   "The movie's title.")


def minilm() -> MiniLMText:
    return MiniLMText(TITLE, MAX_TOKENS)
