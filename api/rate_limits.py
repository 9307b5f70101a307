"""Rate limits: requests per verified device, per verified user, and failed
authentications per client address (settings.rate_limits, the ``limits`` library).

Identities are charged after their token verified (api/auth.py ``TokenVerifier``), so a
limit is keyed on the device id or user id the server trusts, never on the raw token:
a client cannot escape its limit by minting tokens, nor exhaust someone else's by
sending that someone's id. Requests without a valid token cannot be charged to an
identity; they cost a verification each, so the address that sends them is charged
instead (:class:`FailedAuthLimit`), and an address over that limit gets 429 for every
request carrying a token, before any verification.

Over a limit: 429 ``rate_limited`` with the error body and ``Retry-After`` (whole
seconds until the window that refused the request resets).

Lifecycle: :meth:`RateLimits.from_settings` builds one per app (api/app.py); the counts
live in its storage (memory:// in the process; redis:// shared by API replicas). A Redis
that does not answer fails the request (500), like any store the API needs.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
)

from api.errors import ApiError, error_response
from fitstream.observability import metrics
from fitstream.settings import RateLimitSettings

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
    """The limits of one app, by kind of key: ``device``, ``user``, ``failed_auth``."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.limiter = _STRATEGIES[settings.strategy](storage_from_string(storage_uri(settings)))
        self.limits: dict[str, list[RateLimitItem]] = {
            kind: parse_many(text) if text.strip() else []
            for kind, text in (("device", settings.device), ("user", settings.user),
                               ("failed_auth", settings.failed_auth))}

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> RateLimits:
        return cls(settings)

    def retry_after_s(self, kind: str, key: tuple[str, ...],
                      refused: list[RateLimitItem]) -> int:
        """Whole seconds until every refusing window has reset (at least 1). Redis keeps
        the reset in whole seconds (TTL, rounded), so there it may be half a second early:
        a client retrying on the dot can get one more 429, with Retry-After 1."""
        reset = max(self.limiter.get_window_stats(item, kind, *key).reset_time
                    for item in refused)
        # Read the clock after the storage did: Redis's reset is its TTL plus its now.
        return max(1, math.ceil(reset - time.time()))

    def charge(self, kind: str, *key: str) -> None:
        """Count one request of ``key``; RateLimited if a window of ``kind`` is full."""
        items = self.limits[kind]
        refused = [item for item in items if not self.limiter.hit(item, kind, *key)]
        if refused:
            metrics.RATE_LIMITED.labels(limit=kind).inc()
            raise RateLimited(kind.replace("_", " "), self.retry_after_s(kind, key, refused))

    def check(self, kind: str, *key: str) -> None:
        """RateLimited if a window of ``kind`` is full for ``key``, without counting."""
        refused = [item for item in self.limits[kind]
                   if not self.limiter.test(item, kind, *key)]
        if refused:
            metrics.RATE_LIMITED.labels(limit=kind).inc()
            raise RateLimited("client address", self.retry_after_s(kind, key, refused))

    def count(self, kind: str, *key: str) -> None:
        """Count one event of ``key`` (a failed authentication), refusing nothing now."""
        for item in self.limits[kind]:
            self.limiter.hit(item, kind, *key)


class FailedAuthLimit:
    """ASGI middleware: charges each 401 to the client address, and answers 429 to an
    address over ``rate_limits.failed_auth`` for every request that carries a token
    (anonymous requests verify nothing, so they pass).

    The address is the ASGI client's: behind a proxy, run uvicorn with
    ``--forwarded-allow-ips`` so that it is the caller's, not the proxy's."""

    def __init__(self, app: Any, rate_limits: RateLimits) -> None:
        self.app = app
        self.rate_limits = rate_limits

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.rate_limits.limits["failed_auth"]:
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        if any(k == b"authorization" for k, _ in scope["headers"]):
            try:
                self.rate_limits.check("failed_auth", address)
            except RateLimited as exc:
                await error_response(exc.status, exc.error, exc.message, exc.details,
                                     exc.headers)(scope, receive, send)
                return

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.rate_limits.count("failed_auth", address)
            await send(message)

        await self.app(scope, receive, counting_send)
