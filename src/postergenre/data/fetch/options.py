"""The settings of a fetch run, every one checked where it is received."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields

from ...errors import UserError
from ..images import MAX_BYTES


class OptionError(UserError):
    """A bad value of one setting, said so that a front end can name the setting its own way.

    ``str()`` calls it by its Python name (``max_mb``); ``text("--max-mb")`` by another.
    """

    def __init__(self, option: str, before: str, after: str = ""):
        self.option, self.before, self.after = option, before, after
        super().__init__(self.text(option))

    def text(self, name: str) -> str:
        return f"{self.before}{name}{self.after}"


# setting → (lowest, highest, unit); anything else, NaN and infinity included, is refused.
RANGES: dict[str, tuple[float, float, str]] = {
    "concurrency": (1, 256, ""),
    "per_host": (1, 256, ""),
    "delay": (0, 3600, " s"),
    "timeout": (0.01, 3600, " s"),
    "connect_timeout": (0.01, 3600, " s"),
    "deadline": (0.01, 3 * 3600, " s"),
    "retries": (0, 20, ""),
    "backoff": (0, 3600, " s"),
    "max_backoff": (0, 3600, " s"),
    "max_mb": (0.001, MAX_BYTES / 2**20, " MB"),  # no larger than a poster may be to decode
    "max_redirects": (0, 50, ""),
}


@dataclass(frozen=True)
class FetchOptions:
    """How posters are fetched: every limit explicit, all in one place, each range-checked
    (``OptionError``). Limits apply to every source, local files included."""

    concurrency: int = 8  # downloads in flight overall
    per_host: int = 4  # ... and per host (politeness)
    delay: float = 0.0  # minimum seconds between two request starts on one host
    timeout: float = 20.0  # seconds to wait for a connection or for the next bytes
    connect_timeout: float = 10.0  # ... for a connection (never more than ``timeout``)
    deadline: float = 60.0  # one attempt, start to last byte (stops slow drip-feeds)
    retries: int = 3  # extra attempts after the first, for retryable failures only
    backoff: float = 0.5  # seconds before the first retry; doubles each time (with jitter)
    max_backoff: float = 30.0  # also the cap on a server's Retry-After
    max_mb: float = 20.0  # the largest poster accepted, in MiB
    max_redirects: int = 5  # redirects followed per attempt; 0: a redirect is a failure

    def __post_init__(self):
        for f in fields(self):
            _check(f.name, getattr(self, f.name), f.type == "int", *RANGES[f.name])

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    def retry_wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1): exponential with
        jitter, at least a server's Retry-After, at most ``max_backoff``."""
        wait = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_backoff)

    def as_dict(self) -> dict:
        return {**asdict(self), "max_bytes": self.max_bytes}


def _check(name: str, value: object, whole: bool, low: float, high: float, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        kind = "a whole number" if whole else "a number"
        raise OptionError(name, "", f" must be {kind}, got {value!r}")
    if not low <= value <= high:  # False for NaN too
        raise OptionError(name, "", f" must be between {low:g} and {high:g}{unit}, got {value!r}")
