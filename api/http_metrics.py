"""HTTP request metrics: a count and a latency histogram per method, route template and
status (``fitstream_http_requests_total``, ``fitstream_http_request_duration_seconds``).

The route label is the template of the route that served the request
(``/api/v1/workouts/{workout_id}``), read from the ASGI scope after routing (FastAPI puts
the matched route there). Never the raw path: paths carry ids a client chooses, and a
label per id would grow Prometheus without bound. Requests no route matched (404s,
probes, static files under a mount) share one label, :data:`UNMATCHED`.

Installed outermost (api/app.py), so refusals by the other middlewares (413, 429) are
counted too, and the time is the whole request as the server saw it.
"""

from __future__ import annotations

import time
from typing import Any

from fitstream.observability import metrics

UNMATCHED = "unmatched"
# Methods outside this set are collapsed too: the method is client-chosen text.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: dict) -> str:
    """The matched route's template, else :data:`UNMATCHED`."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED


class HttpMetrics:
    """ASGI middleware moving the two HTTP metrics once per response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_with_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            labels = (method, route_template(scope), str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_REQUEST_SECONDS.labels(*labels).observe(
                time.perf_counter() - started)
