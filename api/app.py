"""The FastAPI application. Roles are wired by the caller, so one process can serve
ingest only, reads only, or both (the embedded default)."""

import random
import re
from typing import Any

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from structlog.contextvars import bind_contextvars, clear_contextvars

from api.achievements import achievement_router
from api.analytics import analytics_router
from api.auth import TokenVerifier, device_scheme
from api.boards import Boards
from api.dashboard import dashboard_router
from api.erasure import erasure_router
from api.errors import ApiError, ErrorBody, error_response, install_error_handlers
from api.event_publisher import EventPublisher
from api.http_metrics import HttpMetrics
from api.ingest import ingest_router
from api.leaderboards import leaderboard_router
from api.notifications import notification_router
from api.openapi_document import shaped
from api.pipeline_health import install_pipeline_health
from api.predictions import prediction_router
from api.rate_limits import AddressLimits, RateLimits
from api.revocations import Revocations
from api.stats_view import StatsView
from api.uploads import uploads_router
from api.view_cache import ViewCache
from api.workout_owners import WorkoutOwners
from api.workout_views import workout_router
from fitstream.contracts import AvroSerde
from fitstream.observability import tracing
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from fitstream.tokens import TokenKeys
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

# What a client's own X-Trace-Id may be to reach the logs: it is the client's text.
_CLIENT_TRACE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class DefaultSecretRefused(RuntimeError):
    pass


def check_token_secret(settings: FitStreamSettings) -> None:
    """Refuse the well-known default token secret (anyone could sign tokens with it)
    unless the settings are the embedded demo's or the tests'."""
    if (TokenKeys.from_settings(settings.api).uses_default_secret()
            and not settings.allow_default_token_secret):
        raise DefaultSecretRefused(
            "the API token secret is the public default: set FITSTREAM_API__TOKEN_SECRET "
            "(the embedded demo and the tests set FITSTREAM_ALLOW_DEFAULT_TOKEN_SECRET=true)")


class BodySizeLimit:
    """Refuses request bodies over a cap with 413 and the error body: at once if
    Content-Length says so, else as soon as the streamed body passes the cap, before
    anything parses it. Paths under a prefix of ``caps`` get that prefix's cap."""

    def __init__(self, app: Any, max_bytes: int, caps: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.caps = caps or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = next((c for prefix, c in self.caps.items() if scope["path"].startswith(prefix)),
                   self.max_bytes)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            status, error = (413, "payload_too_large") if declared.isdigit() else (
                400, "bad_request")
            await error_response(status, error, f"request body over {cap} bytes" if
                                 status == 413 else "invalid Content-Length")(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Starlette's HTTPException passes through FastAPI's body reading
                    # and becomes our error body (errors.py).
                    raise HTTPException(413, f"request body over {cap} bytes")
            return message

        await self.app(scope, capped_receive, send)


class TraceIdMiddleware:
    """Makes each request's trace current and binds its id to the logs and the response.

    The trace id is the W3C one (fitstream/observability/tracing.py): the request's
    SERVER span's with tracing on, else that of a valid ``traceparent`` the request
    carries (records produced for it carry that traceparent on). Without either, an
    ``X-Trace-Id`` of at most 64 safe characters is kept for the logs (what clients
    sent before traceparent), or a new id is made. The id goes back as ``X-Trace-Id``.

    New ids need to be unique, not secret: the process PRNG is a syscall cheaper than
    uuid4 on every request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with tracing.request_span(scope["headers"], scope["method"]) as span:
            trace_id = tracing.trace_id_of() or next(
                (v.decode() for k, v in scope["headers"]
                 if k == b"x-trace-id" and _CLIENT_TRACE_ID.fullmatch(v)),
                None) or f"{random.getrandbits(128):032x}"
            clear_contextvars()
            bind_contextvars(trace_id=trace_id)

            async def send_with_trace(message: dict) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", []).append((b"x-trace-id", trace_id.encode()))
                    if span is not None:
                        tracing.responded(span, message["status"])
                await send(message)

            await self.app(scope, receive, send_with_trace)
            route = scope.get("route")
            if span is not None and route is not None:
                tracing.routed(span, scope["method"], route.path)


def create_app(settings: FitStreamSettings, serde: AvroSerde,
               store: ClickHouseStore | None, publisher: EventPublisher | None,
               revocations: Revocations | None = None) -> FastAPI:
    """The app; ``revocations`` (followed by the caller) are checked on every device
    token, None only for apps built in-process without a revocation topic."""
    app = FastAPI(
        title="FitStream API", version="1.0.0",
        description="Device ingest and workout read models. Errors share one body: "
                    '{"error", "message", "code", "details"}.')
    install_error_handlers(app)
    # Verified identities are charged their rate limits (api/rate_limits.py).
    rate_limits = RateLimits(settings.rate_limits)
    app.state.token_verifier = TokenVerifier(TokenKeys.from_settings(settings.api), revocations,
                                             rate_limits)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes,
                       caps={"/api/v1/ingest/": settings.api.ingest_max_bytes,
                             # The file plus the multipart envelope (api/uploads.py
                             # caps the file itself).
                             "/api/v1/uploads": settings.uploads.max_bytes + 64 * 1024})
    app.add_middleware(AddressLimits, rate_limits=rate_limits)
    app.add_middleware(TraceIdMiddleware)
    # Outermost (added last): times and counts every answer, the refusals above included.
    app.add_middleware(HttpMetrics)
    # What the routes' dependencies hand them (api/dependencies.py).
    app.state.settings = settings
    app.state.serde = serde
    app.state.store = store
    app.state.publisher = publisher
    if publisher is not None or store is not None:
        app.state.field_cipher = FieldCipher(key_store(settings))
    if publisher is not None:
        # The scheme, for the OpenAPI document; the route verifies the token itself.
        app.include_router(ingest_router(settings),
                           dependencies=[Depends(device_scheme)])
        # Activity files become the same events (api/uploads.py); GET reads the views.
        app.include_router(uploads_router(settings))
    # Whose workout an id is: the reads' owner checks and ingest's 409 (api/ingest.py).
    app.state.workout_owners = (WorkoutOwners(store, settings.api.view_cache_ttl_s)
                                if store is not None else None)
    if store is not None:
        app.state.view_cache = ViewCache(settings.api.view_cache_ttl_s)
        app.state.boards = Boards(store, app.state.view_cache,
                                  settings.api.ranked_board_max_rows)
        app.state.stats_view = StatsView(app.state.boards)
        app.include_router(workout_router(settings))
        app.include_router(leaderboard_router())
        app.include_router(achievement_router())
        app.include_router(notification_router(settings))
        app.include_router(prediction_router())
        app.include_router(analytics_router())
        app.include_router(erasure_router())

    # The dashboard page at / (api/dashboard/) and the pipeline health it shows analysts.
    app.include_router(dashboard_router())
    install_pipeline_health(app)

    @app.get("/healthcheck", tags=["operations"], responses={503: {"model": ErrorBody}})
    def healthcheck() -> dict[str, str]:
        """Liveness plus a probe of the store this process reads."""
        checks = {"status": "ok"}
        if store is not None:
            try:
                queries.ping(store)
                checks["clickhouse"] = "ok"
            except Exception as exc:
                raise ApiError(503, "unavailable", f"clickhouse: {exc}") from exc
        return checks

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = shaped(generate_openapi(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
