"""The FastAPI application. Roles are wired by the caller, so one process can serve
ingest only, reads only, or both (the embedded default)."""

import random
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from structlog.contextvars import bind_contextvars, clear_contextvars

from api.achievements import achievement_router
from api.analytics import analytics_router
from api.errors import ApiError, install_error_handlers
from api.event_publisher import EventPublisher
from api.ingest import ingest_router
from api.leaderboards import leaderboard_router
from api.notifications import notification_router
from api.view_cache import ViewCache
from api.workout_views import workout_router
from fitstream.contracts import AvroSerde
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.store import ClickHouseStore


class TraceIdMiddleware:
    """Binds a trace id (from ``X-Trace-Id`` or new) to the logs and echoes it back.

    New ids need to be unique, not secret: the process PRNG is a syscall cheaper than
    uuid4 on every request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = next((v.decode() for k, v in scope["headers"] if k == b"x-trace-id"),
                        None) or f"{random.getrandbits(128):032x}"
        clear_contextvars()
        bind_contextvars(trace_id=trace_id)

        async def send_with_trace(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-trace-id", trace_id.encode()))
            await send(message)

        await self.app(scope, receive, send_with_trace)


def create_app(settings: FitStreamSettings, serde: AvroSerde,
               store: ClickHouseStore | None, publisher: EventPublisher | None) -> FastAPI:
    app = FastAPI(
        title="FitStream API", version="1.0.0",
        description="Device ingest and workout read models. Errors share one body: "
                    '{"error", "message", "code", "details"}.')
    install_error_handlers(app)
    app.add_middleware(TraceIdMiddleware)
    if publisher is not None:
        app.include_router(ingest_router(settings, serde, publisher))
    if store is not None:
        cache = ViewCache(settings.api.view_cache_ttl_s)
        app.include_router(workout_router(settings, store, cache))
        app.include_router(leaderboard_router(store, cache, settings.api.ranked_board_max_rows))
        app.include_router(achievement_router(store))
        app.include_router(notification_router(settings, serde, store, publisher))
        app.include_router(analytics_router(settings, store))

    @app.get("/healthcheck", tags=["operations"])
    def healthcheck() -> dict[str, str]:
        """Liveness plus a probe of the store this process reads."""
        checks = {"status": "ok"}
        if store is not None:
            try:
                store.query("SELECT 1 AS ok")
                checks["clickhouse"] = "ok"
            except Exception as exc:
                raise ApiError(503, "unavailable", f"clickhouse: {exc}") from exc
        return checks

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
