"""``postergenre serve | index``: the web app over a bundle, and its comparable-films index."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UserError
from . import options as o

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve(
    model: Annotated[Path, typer.Argument(help="Model bundle folder (a run's model/).")],
    host: Annotated[str, typer.Option(
        help="Address to listen on (the default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Inference threads.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, max=256,
                                            help="Posters per inference batch.")] = 8,
    max_files: Annotated[int, typer.Option(min=1, max=256,
                                           help="Images per request.")] = 16,
    max_queue: Annotated[int, typer.Option(min=1, max=100_000, help="Posters waiting for "
                                           "inference; beyond, requests get 503.")] = 256,
    timeout: Annotated[float, typer.Option(min=1, max=3600, help="Seconds before an "
                                           "unanswered request gets 503.")] = 60.0,
    threads: Annotated[int | None, typer.Option(min=1, max=1024, help="onnxruntime threads "
                                                "per graph run [default: every CPU].")] = None,
    report: Annotated[Path | None, typer.Option(
        help="The report to serve at /report [default: report.html in the bundle's run "
             "folder, if there is one].")] = None,
) -> int:
    """Serve the page and the JSON API (/docs) for one model, until Ctrl-C."""
    import uvicorn

    from ..bundle import load_bundle
    from ..serve import Limits, SimilarIndex, create_app

    try:  # every limit checked before anything is loaded
        limits = Limits(workers=workers, batch_size=batch_size, max_files=max_files,
                        max_queue=max_queue, timeout_s=timeout).check()
    except ValueError as e:
        raise UserError(f"--timeout/--workers/--batch-size/--max-files/--max-queue: {e}") from None
    if report is not None and not report.is_file():
        raise UserError(f"--report {report}: no such file")
    bundle = load_bundle(model, threads)
    index = SimilarIndex.of(bundle, threads)
    app = create_app(bundle, limits, index, None if report is None else report.resolve())
    if host not in LOOPBACK:
        print(f"warning: listening on {host}: other machines can reach this server",
              file=sys.stderr)
    films = f", {len(index):,} comparable films" if index is not None else ""
    print(f"{model}: {len(bundle.genres)} genres{films}; http://{host}:{port}/ (Ctrl-C stops)",
          file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=5,
                server_header=False, limit_concurrency=limits.max_connections)
    return 0


def index(
    run: Annotated[Path, typer.Argument(help="A finished run folder (with model/).")],
    backbone: Annotated[list[str] | None, typer.Option(
        help="Backbone(s) whose embeddings place the films [default: the model's first].")] = None,
    dims: Annotated[int, typer.Option(min=2, max=4096, help="Dimensions kept by PCA.")] = 128,
    data: Annotated[Path | None, typer.Option(
        help="The run's dataset folder, if it has moved.")] = None,
    cache: o.CacheDir = None,
) -> int:
    """Write the comparable-films index into a run's bundle: its training catalogue's
    posters, embedded (from the cache where it has them) and reduced by PCA, with their
    thumbnails."""
    from ..training.predictions import read_predictions
    from ..training.record import METRICS_FILE, read_record
    from ..training.run import COMPLETE, is_complete

    cache = o.cache_dir(cache)
    if run.is_dir() and not is_complete(run):  # as `report` refuses it
        raise UserError(f"{run}: unfinished run (no {COMPLETE} marker); wait for train to end")
    if (run / METRICS_FILE).is_file():  # the index leaves out its test ids: the run's own
        read_predictions(run, read_record(run))
    from ..serve import index_run

    try:
        entry = index_run(run, backbone, data, cache, dims)
    except ValueError as e:
        raise UserError(f"{run}: {e}") from None
    thumbs = entry["thumbnails"]
    print(f"{run / 'model'}: {entry['n_films']:,} films, {entry['dims']} dimensions, "
          f"{entry['bytes'] / 2**20:.1f} MB ({', '.join(entry['backbones'])}); "
          f"{thumbs['films']:,} thumbnails, {thumbs['bytes'] / 2**20:.1f} MB")
    return 0
