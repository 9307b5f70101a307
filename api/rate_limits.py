"""Rate limits: requests per verified device, per verified user, per client address
for requests without a token, and failed authentications per client address
(settings.rate_limits, the ``limits`` library).

Identities are charged after their token verified (api/auth.py ``TokenVerifier``), so a
limit is keyed on the device id or user id the server trusts, never on the raw token:
a client cannot escape its limit by minting tokens, nor exhaust someone else's by
sending that someone's id. Requests without a valid token cannot be charged to an
identity; they cost a verification each, so the address that sends them is charged
instead (``failed_auth``). An address over that limit gets 429 only for a token that
would have to be verified (one not in the verified-token cache): behind a load balancer
every caller may share one address, and a stranger's bad tokens must not lock out the
holders of tokens already verified. Requests without any token are charged to their
address (``anonymous``: the public reads and the healthcheck).

The address is the ASGI client's: uvicorn replaces it with X-Forwarded-For only from
``api.forwarded_allow_ips`` (cli/serve.py); without that, behind a balancer, the
address limits are shared by every caller and must be sized for it.

Over a limit: 429 ``rate_limited`` with the error body and ``Retry-After`` (whole
seconds until the window that refused the request resets).

Lifecycle: api/app.py builds one :class:`RateLimits` per app; the counts live in its
storage (memory:// in the process; redis:// shared by API replicas). Every storage call
blocks the event loop for at most ``storage_timeout_s``. A storage error fails OPEN:
the request is served unlimited, with a warning and ``fitstream_rate_limit_errors_total``,
and the storage is left alone for ``storage_retry_s`` (a Redis that hangs costs one
timeout per process per pause, not several per request). The limits protect the API
from abusive clients; refusing every client because their counter is unreachable would
turn a Redis outage into an API outage, which is the worse failure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import structlog
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
)

from api.errors import ApiError, error_response
from fitstream.observability import metrics
from fitstream.settings import RateLimitSettings

log = structlog.get_logger("api.rate_limits")
T = TypeVar("T")

# The client address of the request being served, set by :class:`AddressLimits` for the
# request's task (FastAPI runs the dependencies that verify tokens in that context).
CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("fitstream_client_address", default=None)

# What a 429's message says is over its limit, by kind of key.
_WHAT = {"device": "device", "user": "user", "failed_auth": "client address",
         "anonymous": "client address"}

_STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
}


def storage_uri(settings: RateLimitSettings) -> str:
    """The storage URI with the password from its secret (never kept in the URI setting,
    which `fitstream settings` prints)."""
    password = settings.storage_password.get_secret_value()
    if not password:
        return settings.storage_uri
    parts = urlsplit(settings.storage_uri)
    netloc = f"{quote(parts.username or '', safe='')}:{quote(password, safe='')}@" \
             f"{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


class RateLimited(ApiError):
    """429 with the error body and Retry-After."""

    def __init__(self, what: str, retry_after_s: int) -> None:
        super().__init__(429, "rate_limited",
                         f"too many requests for this {what}; retry in {retry_after_s} s",
                         {"retry_after_s": retry_after_s},
                         headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class RateLimits:
    """The limits of one app, by kind of key: ``device``, ``user``, ``failed_auth``,
    ``anonymous``. Built from the settings by its constructor (api/app.py)."""

    def __init__(self, settings: RateLimitSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # wrap_exceptions: one error type for every storage; the timeouts reach the
        # Redis client (memory:// ignores them).
        storage = storage_from_string(
            storage_uri(settings), wrap_exceptions=True,
            socket_timeout=settings.storage_timeout_s,
            socket_connect_timeout=settings.storage_timeout_s)
        self.limiter = _STRATEGIES[settings.strategy](storage)
        self._errors = (StorageError, *_as_tuple(storage.base_exceptions))
        self.limits: dict[str, list[RateLimitItem]] = {
            kind: parse_many(text) if text.strip() else []
            for kind, text in (("device", settings.device), ("user", settings.user),
                               ("failed_auth", settings.failed_auth),
                               ("anonymous", settings.anonymous))}
        self.retry_s = settings.storage_retry_s
        self.clock = clock
        self._paused_until = float("-inf")

    def _storage(self, call: Callable[[], T], otherwise: T) -> T:
        """``call()`` on the storage; ``otherwise`` (fail open) if it fails or failed
        less than ``storage_retry_s`` ago."""
        if self.clock() < self._paused_until:
            return otherwise
        try:
            return call()
        except self._errors as exc:
            self._paused_until = self.clock() + self.retry_s
            metrics.RATE_LIMIT_ERRORS.inc()
            log.warning("rate_limit_storage_failed", error=repr(exc),
                        unlimited_for_s=self.retry_s)
            return otherwise

    def retry_after_s(self, kind: str, key: tuple[str, ...],
                      refused: list[RateLimitItem]) -> int:
        """Whole seconds until every refusing window has reset (at least 1). Redis keeps
        the reset in whole seconds (TTL, rounded), so there it may be half a second early:
        a client retrying on the dot can get one more 429, with Retry-After 1."""
        reset = self._storage(lambda: max(
            self.limiter.get_window_stats(item, kind, *key).reset_time for item in refused),
            time.time() + 1)
        # Read the clock after the storage did: Redis's reset is its TTL plus its now.
        return max(1, math.ceil(reset - time.time()))

    def _refuse(self, kind: str, key: tuple[str, ...], refused: list[RateLimitItem]) -> None:
        if refused:
            metrics.RATE_LIMITED.labels(limit=kind).inc()
            raise RateLimited(_WHAT[kind], self.retry_after_s(kind, key, refused))

    def charge(self, kind: str, *key: str) -> None:
        """Count one request of ``key``; RateLimited if a window of ``kind`` is full."""
        self._refuse(kind, key, self._storage(
            lambda: [item for item in self.limits[kind]
                     if not self.limiter.hit(item, kind, *key)], []))

    def check(self, kind: str, *key: str) -> None:
        """RateLimited if a window of ``kind`` is full for ``key``, without counting."""
        self._refuse(kind, key, self._storage(
            lambda: [item for item in self.limits[kind]
                     if not self.limiter.test(item, kind, *key)], []))

    def count(self, kind: str, *key: str) -> None:
        """Count one event of ``key`` (a failed authentication), refusing nothing now."""
        self._storage(lambda: [self.limiter.hit(item, kind, *key)
                               for item in self.limits[kind]], [])

    def before_verification(self) -> None:
        """RateLimited if the calling address is over ``failed_auth``: called before a
        token is verified (not for a token found in the verified-token cache). Outside
        a request served through :class:`AddressLimits` there is no address: no check."""
        address = CLIENT_ADDRESS.get()
        if address is not None and self.limits["failed_auth"]:
            self.check("failed_auth", address)


def _as_tuple(exceptions: type[Exception] | tuple[type[Exception], ...],
              ) -> tuple[type[Exception], ...]:
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)


class AddressLimits:
    """ASGI middleware for the limits keyed on the client address: a request without a
    token is charged to ``rate_limits.anonymous``; a 401 is counted against
    ``rate_limits.failed_auth``, which :meth:`RateLimits.before_verification` enforces
    (the address is published to it in :data:`CLIENT_ADDRESS`)."""

    def __init__(self, app: Any, rate_limits: RateLimits) -> None:
        self.app = app
        self.rate_limits = rate_limits

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        if not any(k == b"authorization" for k, _ in scope["headers"]):
            try:
                self.rate_limits.charge("anonymous", address)
            except RateLimited as exc:
                await error_response(exc.status, exc.error, exc.message, exc.details,
                                     exc.headers)(scope, receive, send)
                return

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.rate_limits.count("failed_auth", address)
            await send(message)

        reset = CLIENT_ADDRESS.set(address)
        try:
            await self.app(scope, receive, counting_send)
        finally:
            CLIENT_ADDRESS.reset(reset)
