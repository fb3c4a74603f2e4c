"""``postergenre compare``: the leaderboard of runs that can be compared.

Reads each finished run folder's record (``training.record``: ``metrics.json``, validated
whole) and lists model, settings, genre count, every headline metric as CV mean ± std and
test, the training time and the bundle's predict throughput (measured here with bare
onnxruntime on random inputs for every input the bundle declares) next to the
no-information baselines.

Only runs whose numbers compare are ranked; the others are listed under "Not listed" with
the reason: unfinished (no ``COMPLETE`` marker, which training writes last), unreadable or
invalid (the file and the key: no number of such a record is ranked or printed; a
``history.json`` or ``predictions_test.csv`` the folder holds is checked too), made on
another split (their test posters differ) or trained on another genre vocabulary (their
macro metrics average over other genres).

runs   ``compare``: the run folders found, read, refused or listed, and their baselines
table  ``Leaderboard``: the table and its text forms
"""

from .runs import compare, find_runs, measure_throughput, read_run, settings_of
from .table import Leaderboard

__all__ = ["Leaderboard", "compare", "find_runs", "measure_throughput", "read_run",
           "settings_of"]
