"""The dashboard page at ``/``: static HTML, JS and CSS from ``static/``, no build step.

The page reads only the API's own endpoints (leaderboards, a signed-in user's stats,
achievements, workouts and route, and for analysts the pipeline health). It loads
nothing from another origin (the machines are offline), and its answers carry a strict
Content-Security-Policy: scripts, styles, images and requests from this origin only,
no inline script or style, no framing, no form posts, so a string from the API that got
into the DOM as markup (the JS only uses textContent) could still run nothing.

Only the files listed in ``FILES`` are served, read once at import: no path from the
request reaches the file system.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Response

STATIC = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Small files that change with a deploy: revalidate rather than run a stale script.
    "Cache-Control": "no-cache",
}
FILES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_CONTENT = {name: (STATIC / name).read_bytes() for name in [*FILES, "index.html"]}


def _file(name: str, media_type: str) -> Response:
    return Response(_CONTENT[name], media_type=media_type, headers=HEADERS)


def dashboard_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def dashboard_page() -> Response:
        return _file("index.html", "text/html; charset=utf-8")

    @router.get("/favicon.ico")
    def favicon() -> Response:
        return _file("favicon.svg", FILES["favicon.svg"])

    for name, media_type in FILES.items():
        router.add_api_route(f"/dashboard/{name}", _serving(name, media_type),
                             methods=["GET"], name=f"dashboard {name}")
    return router


def _serving(name: str, media_type: str) -> Callable[[], Response]:
    # A closure, not a lambda with defaults: FastAPI would take those for query parameters.
    def serve() -> Response:
        return _file(name, media_type)
    return serve
