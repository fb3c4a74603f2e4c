"""A text field read by MiniLM: the field's token ids, and the embedding made from them.

Shared by every text input (the title, the poster's printed text): a text is cleaned (NFC,
whitespace collapsed), cut to ``max_tokens`` MiniLM tokens, and encoded once per text into
the cache (``text-<field>-<max_tokens>``); an empty text is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from ..producer import Engine, produce
from ..text import DIM, clean, example_ids, graph_encoder, text_key, text_producer, text_version
from ..text import token_ids as _token_ids
from .base import Field, InputSpec, Made, PathLike, column, spread


def text_field(name: str, max_tokens: int, columns: tuple[str, ...] = (), help: str = "",
               derive: Callable[[dict], Any] | None = None, **preprocessing: Any) -> Field:
    """A record field holding a text, fed to the graph as MiniLM token ids (0 = padding)."""

    def prepare(value: Any) -> np.ndarray | None:
        text = clean(value)
        return _token_ids([text], max_tokens)[0] if text else None

    return Field(name=name, type="text", prepare=prepare, batch=np.stack,
                 example=lambda n: example_ids(n, max_tokens),
                 absent=lambda: np.zeros(max_tokens, np.int64),
                 present=lambda ids: (ids[:, 0] != 0).float(), columns=columns, help=help,
                 axes={1: f"{name}_tokens"}, derive=derive,
                 preprocessing={"encoder": "all-MiniLM-L6-v2", "max_tokens": max_tokens,
                                "text": "NFC, whitespace collapsed, truncated", "pad_id": 0,
                                **preprocessing})


def text_rows(field: str, max_tokens: int, texts: list[str], cache_dir: PathLike,
              progress: bool) -> Made:
    """MiniLM rows of ``clean`` texts (cached per text); an empty text is absent."""
    keys = [text_key(t, max_tokens) if t else None for t in texts]
    got, failed = produce(text_producer(field, max_tokens, cache_dir), keys, texts, progress)
    present = [k is not None and i not in failed for i, k in enumerate(keys)]
    return spread(got, present, {}, (DIM,))


@dataclass(frozen=True)
class MiniLMText(InputSpec):
    """The MiniLM embedding of a text field (``NAME:minilm``)."""

    field: Field
    max_tokens: int

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.field.name}:minilm"

    def texts(self, rows: pd.DataFrame, cache_dir: PathLike, progress: bool) -> list[str]:
        return [clean(v) for v in column(rows, self.field.name)]

    def make(self, fitted: Any, rows: pd.DataFrame, cache_dir: PathLike, progress: bool = True,
             engine: Engine | None = None) -> Made:
        return text_rows(self.field.name, self.max_tokens,
                         self.texts(rows, cache_dir, progress), cache_dir, progress)

    def graph_module(self, fitted: Any) -> nn.Module:
        return graph_encoder()

    def describe(self, fitted: Any) -> dict:
        return {"encoder": "all-MiniLM-L6-v2", "version": text_version(),
                "max_tokens": self.max_tokens}
