"""Pixels for models trained end to end: the pixel cache and their one training loop.

A poster becomes its canvas (``features.canvas``, the same decode as at predict time) and, if
the model wants another size, is resized with the very bilinear resize the exported graph
runs (``resize_like_graph``), then rounded to uint8. The result is stored once per image
content in an ``ArrayStore`` (producer ``pixels-<h>x<w>``), so epochs, folds and tuning trials
read arrays instead of decoding WebP again, and a killed run keeps what it already stored.

``PixelClassifier`` is the fit/predict_proba loop shared by ``seed_cnn`` and ``finetune``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import ArrayStore, default_cache_dir
from ..data.images import content_hash
from ..features.canvas import CANVAS_HW, CANVAS_REVISION
from ..features.extract import decode_job
from ..progress import track

PathLike = str | os.PathLike
PIXELS_REVISION = 1  # bump when the stored pixels change for the same inputs
FLUSH_ROWS = 1024


def resize_like_graph(pixels: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) float pixels to ``hw``: bilinear, half-pixel centres, no antialiasing.

    This is the resize inside every exported graph, so cached pixels match predict time.
    """
    if tuple(pixels.shape[-2:]) == tuple(hw):
        return pixels
    return F.interpolate(pixels, size=tuple(hw), mode="bilinear", align_corners=False)


def pixel_store(hw: tuple[int, int], cache_dir: PathLike | None = None) -> ArrayStore:
    """The cache of (h, w, 3) uint8 pixels at size ``hw``, keyed by image content hash."""
    h, w = hw
    return ArrayStore(
        cache_dir or default_cache_dir(),
        producer=f"pixels-{h}x{w}",
        version=f"{PIXELS_REVISION}-canvas{CANVAS_HW[0]}x{CANVAS_HW[1]}r{CANVAS_REVISION}",
    )


def to_size(canvases: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Canvases (N, *CANVAS_HW, 3) uint8 -> (N, *hw, 3) uint8 through ``resize_like_graph``."""
    if tuple(hw) == CANVAS_HW:
        return canvases
    x = torch.from_numpy(np.ascontiguousarray(canvases.transpose(0, 3, 1, 2))).float()
    y = resize_like_graph(x, hw).round().clamp(0, 255).to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().numpy()


def load_pixels(
    paths: Sequence[PathLike],
    hashes: Sequence[str | None] | None = None,
    hw: tuple[int, int] = CANVAS_HW,
    cache_dir: PathLike | None = None,
    progress: bool = True,
    workers: int = 2,
) -> tuple[np.ndarray, dict[PathLike, str]]:
    """Pixels (n_ok, h, w, 3) uint8 of the posters at ``paths`` and the unusable files.

    Same contract as ``features.embed``: rows in input order for the paths not in
    ``failures``; ``hashes[i]`` is the sha256 of ``paths[i]`` (``None``: hashed here).
    """
    hw = (int(hw[0]), int(hw[1]))
    if hashes is not None and len(hashes) != len(paths):
        raise ValueError("paths and hashes differ in length")
    store = pixel_store(hw, cache_dir)
    failures: dict[PathLike, str] = {}
    keys: list[str | None] = []
    for i, p in enumerate(paths):
        h = hashes[i] if hashes is not None else None
        if h is None:
            try:
                h = content_hash(Path(p).read_bytes())
            except OSError as e:
                failures[p] = f"unreadable: {e.strerror or e}"
        keys.append(h)
    todo: dict[str, list[int]] = {}
    missing = set(store.missing([k for k in keys if k is not None]))
    for i, key in enumerate(keys):
        if key in missing:
            todo.setdefault(key, []).append(i)
    if todo:
        jobs = [(key, paths[idx[0]]) for key, idx in todo.items()]
        for key, reason in _fill(store, jobs, hw, progress, workers):
            for i in todo[key]:
                failures[paths[i]] = reason
        if len(list(store.dir.glob("shard-*.npz"))) > 64:
            store.compact()
    ok = [k for p, k in zip(paths, keys, strict=True) if p not in failures]
    if not ok:
        return np.zeros((0, *hw, 3), np.uint8), failures
    return store.get(ok), failures


def _fill(store: ArrayStore, jobs, hw, progress: bool, workers: int):
    """Decode ``jobs`` into ``store`` (flushing as it goes); yield (key, reason) per failure."""
    keys: list[str] = []
    rows: list[np.ndarray] = []

    def flush():
        if keys:
            store.put(list(keys), to_size(np.stack(rows), hw))
            keys.clear()
            rows.clear()

    h, w = hw
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(decode_job, jobs, chunksize=16)
        for key, arr, reason in track(
            results, len(jobs), f"pixels {h}x{w}: decoding {len(jobs)} posters", progress
        ):
            if reason is not None:
                yield key, reason
                continue
            keys.append(key)
            rows.append(arr)
            if len(keys) >= FLUSH_ROWS:
                flush()
        flush()


# --- the one training loop for models that learn from pixels --------------------------------


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the CUDA GPU when one is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return device


def as_float_nchw(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 255] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float()


class PixelClassifier:
    """``fit(x, y, x_val, y_val, epochs)`` / ``predict_proba(x)`` on uint8 pixel arrays.

    The same contract as ``HeadClassifier``: with validation data, keep the epoch with the
    best validation macro AP and stop after ``patience`` epochs without gain (``best_epoch``
    says which); without, train ``epochs`` (or ``max_epochs``) epochs. Subclasses say what to
    build (``build``), how to optimise it (``optimizer``) and may augment batches
    (``augment``) or initialise the module from the training data (``warm_start``). The
    module has ``logits(pixels_at_training_size)`` and ``forward(canvas) -> probabilities``.
    """

    def __init__(self, config):
        self.config = config
        self.module: torch.nn.Module | None = None
        self.history: list[dict] = []
        self.best_epoch: int = 0
        self.device = resolve_device(getattr(config, "device", "auto"))

    # hooks -------------------------------------------------------------------------------
    def build(self, n_out: int) -> torch.nn.Module:
        raise NotImplementedError

    def optimizer(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        raise NotImplementedError

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x

    def warm_start(self, module, x, y, x_val, y_val) -> None:
        """Called once before the first epoch (e.g. a linear probe for the head)."""

    def set_train_mode(self, module: torch.nn.Module) -> None:
        module.train()

    def loss_name(self) -> str:
        return self.config.loss

    # the loop ----------------------------------------------------------------------------
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        epochs: int | None = None,
    ) -> PixelClassifier:
        import copy
        import math

        from .heads import macro_ap
        from .losses import multilabel_loss, positive_weights

        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        module = self.build(y.shape[1]).to(self.device)
        self.module = module
        self.warm_start(module, x, y, x_val, y_val)
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).to(self.device)
        pos_weight = positive_weights(yt)
        opt = self.optimizer(module)
        n_epochs = epochs or cfg.max_epochs
        loss_name = self.loss_name()
        steps = n_epochs * math.ceil(len(x) / cfg.batch_size)
        sched = (
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
            if getattr(cfg, "cosine", False)
            else None
        )
        best, best_state, since_best = -1.0, None, 0
        self.history = []
        for epoch in range(1, n_epochs + 1):
            self.set_train_mode(module)
            order = rng.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), cfg.batch_size):
                idx = np.sort(order[start : start + cfg.batch_size])
                if len(idx) < 2:
                    continue
                xb = self.augment(as_float_nchw(x[idx], self.device), gen)
                loss = multilabel_loss(loss_name, module.logits(xb), yt[idx], pos_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                total += loss.item() * len(idx)
            record = {"epoch": epoch, "train_loss": total / len(x)}
            if x_val is not None and y_val is not None:
                score = macro_ap(y_val, self.predict_proba(x_val))
                record["val_macro_ap"] = score
                if score > best:
                    best, since_best, self.best_epoch = score, 0, epoch
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    since_best += 1
            self.history.append(record)
            if best_state is not None and since_best >= cfg.patience:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        else:
            self.best_epoch = n_epochs
        self.module = module.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
        if self.module is None:
            raise RuntimeError("fit the model first")
        self.module.eval()
        out = [
            torch.sigmoid(self.module.logits(as_float_nchw(x[i : i + batch_size], self.device)))
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out).float().cpu().numpy()

    def export_module(self) -> torch.nn.Module:
        """The fitted module on the CPU, for ONNX export (canvas pixels -> probabilities)."""
        if self.module is None:
            raise RuntimeError("fit the model first")
        import copy

        return copy.deepcopy(self.module).to("cpu").eval()
