"""The demo's HTTP client: a well-behaved client of the API's rate limits.

The demo plays a whole fleet from one address (127.0.0.1), so it meets the limits a real
client would (api/rate_limits.py, settings.rate_limits: the embedded defaults, never
turned off for it). :class:`PatientClient` is an ``httpx.Client`` that answers a 429 the
way the API asks: it waits the response's ``Retry-After`` seconds (bounded) and sends
the same request again; every other status is returned to the caller untouched, so a
429 body is never read as data. It can also pace itself below a sustained rate
(:func:`anonymous_pace`), so the demo's loops over every user stay under the
per-address limit instead of bouncing off it.

Lifecycle: one :class:`RateLimitTally` per demo run, shared by every client the demo
opens (each ``with PatientClient(...)`` block); the demo prints the tally's line at the
end when it met any 429.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from limits import parse_many
from rich.console import Console

# A 429 is retried at most this many times in a row before the demo gives up (a
# RuntimeError: the demo reports it and exits 1); each wait is at most MAX_WAIT_S (the
# longest window of the default limits is a minute).
MAX_RETRIES = 8
MAX_WAIT_S = 60.0
# Waits at least this long are printed: a pause the user would otherwise take for a hang.
SHOWN_WAIT_S = 2.0
# Pace at this share of the configured sustained rate: headroom for the healthcheck and
# the other requests the demo's processes send from the same address.
PACE_SHARE = 0.8


@dataclass
class RateLimitTally:
    """429s met and seconds waited on them, over every client of one demo run."""

    refused: int = 0
    waited_s: float = 0.0

    def line(self) -> str | None:
        if not self.refused:
            return None
        return (f"rate limits: the API answered 429 {self.refused} times; the demo waited "
                f"{self.waited_s:,.1f} s in all (Retry-After) and retried each")


def anonymous_pace(limits: str) -> float | None:
    """Requests per second a token-less client may send without meeting ``limits`` (the
    ``limits`` notation, e.g. ``50/second;1500/minute``): a share of the slowest rate.
    None when the limit is off (an empty string)."""
    if not limits.strip():
        return None
    return PACE_SHARE * min(item.amount / item.get_expiry() for item in parse_many(limits))


def retry_after_s(response: httpx.Response) -> float:
    """The response's Retry-After in seconds (the API sends whole seconds), at least 1 s
    and at most MAX_WAIT_S; a missing or unreadable header waits 1 s."""
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 1.0), MAX_WAIT_S)


class PatientClient(httpx.Client):
    """``httpx.Client`` that waits out a 429's Retry-After and retries (see the module
    docstring); ``pace_per_s`` spaces its requests at most that many a second."""

    def __init__(self, *, tally: RateLimitTally, console: Console,
                 pace_per_s: float | None = None, max_retries: int = MAX_RETRIES,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._tally = tally
        self._console = console
        self._interval_s = 1 / pace_per_s if pace_per_s else 0.0
        self._next_at = 0.0
        self._max_retries = max_retries

    def send(self, request: httpx.Request, **kwargs) -> httpx.Response:
        for attempt in range(self._max_retries + 1):
            self._pace()
            response = super().send(request, **kwargs)
            if response.status_code != 429:
                return response
            response.close()
            self._tally.refused += 1
            if attempt == self._max_retries:
                break
            wait = retry_after_s(response)
            self._tally.waited_s += wait
            if wait >= SHOWN_WAIT_S:
                self._console.print(f"[yellow]rate limited on {request.method} "
                                    f"{request.url.path}: waiting {wait:.0f} s "
                                    "(Retry-After)[/yellow]")
            time.sleep(wait)
        raise RuntimeError(f"{request.method} {request.url.path} was still rate limited "
                           f"after {self._max_retries} retries")

    def _pace(self) -> None:
        now = time.monotonic()
        if now < self._next_at:
            time.sleep(self._next_at - now)
        self._next_at = max(now, self._next_at) + self._interval_s
