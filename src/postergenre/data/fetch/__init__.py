"""``data fetch``: turn a movie table with poster URLs into a dataset folder.

The folder it makes is one ``load_dataset`` reads unchanged::

    DIR/movies.csv             the filtered table, original columns
    DIR/posters/<id>.<ext>     one validated poster per id (.jpg/.png/.webp/... by content)
    DIR/fetch/report.json      counts, filters and rows removed, failures by reason, duplicates
    DIR/fetch/failures.csv     id,url,reason,attempts,detail
    DIR/fetch/posters.csv      id,file,url,sha256,bytes of every poster present

One poster's path: a row's URL is resolved (``urls``: http(s), ``file://`` or a local path;
anything else is refused), fetched under the limits of ``FetchOptions`` (``http`` for URLs,
``local`` for regular files only), retried with exponential backoff on 5xx/408/429, timeouts
and dropped connections (never on other 4xx) (``pool``), streamed to ``posters/.<id>.*.part``,
decoded to prove it is an image, and only then renamed onto ``posters/<id>.<ext>``
(``storage``). A killed run leaves at most ``.part`` files, which the next run deletes; the
next run also skips every id whose file is present and valid, so re-running the same command
finishes the job (``job``; ``summary`` writes what became of each id).
"""

from .failures import FetchFailure, hint
from .job import fetch_table
from .options import FetchOptions, OptionError
from .storage import validate
from .urls import resolve

__all__ = [
    "FetchFailure",
    "FetchOptions",
    "OptionError",
    "fetch_table",
    "hint",
    "resolve",
    "validate",
]
