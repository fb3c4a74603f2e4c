"""Running exported graphs with onnxruntime on CPU: sessions and bare throughput."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort


def cpu_count() -> int:
    """CPUs this process may use (affinity and cgroup-limited where Python can tell)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def open_session(model: str | os.PathLike | bytes,
                 threads: int | None = None) -> ort.InferenceSession:
    """A CPU ``InferenceSession`` with all graph optimisations and ``threads`` intra-op
    threads (default: every available core; no inter-op parallelism, these CNN graphs are
    a chain)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or cpu_count()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # idle workers sleep instead of spinning: the decode thread needs those cycles
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(Path(model))
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


def throughput(
    model: str | os.PathLike | bytes,
    batch_size: int = 8,
    seconds: float = 10.0,
    threads: int | None = None,
    warmup: int = 1,
) -> float:
    """Images per second of ``model`` on random input (first input, dynamic axes = batch),
    run for at least ``seconds`` after ``warmup`` batches. Decoding is not included."""
    session = open_session(model, threads)
    inp = session.get_inputs()[0]
    shape = [batch_size if not isinstance(d, int) else d for d in inp.shape]
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    return rate(lambda: session.run(None, {inp.name: x}), batch_size, seconds, warmup)


def rate(step: Callable[[], object], items: int, seconds: float, warmup: int = 1) -> float:
    """Items per second of ``step`` (one call handles ``items``), called for at least
    ``seconds`` after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += items
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed
