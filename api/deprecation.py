"""The API's lifecycle for an endpoint on its way out (docs/api-changelog.md, its policy).

A deprecated route is marked ``deprecated: true`` in the OpenAPI document (a generated
client warns about it) and every answer its route gives carries (errors too; not a 429
of the address limits in api/rate_limits.py, which answer before any route is reached):

- ``Deprecation: @<unix seconds>`` (RFC 9745): since when it is deprecated;
- ``Sunset: <HTTP-date>`` (RFC 8594): when it stops answering;
- ``Link: <successor>; rel="successor-version"``: what to call instead.

From the sunset on, the route answers 410 ``gone`` with the error body and the same
headers, so an old client learns where to go instead of meeting a bare 404.

Lifecycle: a :class:`Deprecation` is a constant of the router that owns the route (its
dates are part of the API's contract, written in the changelog), and
:func:`add_deprecated_route` registers the route with a route class that adds the
headers to every answer the route gives, errors included: the handler may return a model or a
``Response`` of its own (ETag answers do), so the headers are set on whatever it gives.
Registration checks that the successor's placeholders are path parameters of the route,
so a typo fails at startup instead of answering 500 on every call.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.errors import ApiError, ErrorBody


@dataclass(frozen=True)
class Deprecation:
    """When a route was deprecated, when it goes, and its successor (a path or URL)."""

    since: datetime
    sunset: datetime
    successor: str

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("deprecation dates must be timezone-aware")
        if self.sunset <= self.since:
            raise ValueError("the sunset must come after the deprecation")

    def headers(self, successor: str | None = None) -> dict[str, str]:
        """The three headers; ``successor`` is the link with the request's own values
        in it (the path parameters), else the template."""
        return {"Deprecation": f"@{int(self.since.timestamp())}",
                "Sunset": format_datetime(self.sunset, usegmt=True),
                "Link": f'<{successor or self.successor}>; rel="successor-version"'}

    def is_past_sunset(self, now_s: float) -> bool:
        return now_s >= self.sunset.timestamp()


_HEADER_DOCS = {
    "Deprecation": "RFC 9745: `@` and the Unix time it was deprecated",
    "Sunset": "RFC 8594: the HTTP-date from which it answers 410",
    "Link": 'The successor: `<path>; rel="successor-version"`',
}


def _documented_headers() -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}}
            for name, text in _HEADER_DOCS.items()}


def _route_class(deprecation: Deprecation,
                 clock: Callable[[], float]) -> type[APIRoute]:
    class DeprecatedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer_with_headers(request: Request) -> Response:
                # Path values are the client's text: percent-encoded, so that none can
                # end the link or the header (a > or a CR) or leave latin-1.
                headers = deprecation.headers(deprecation.successor.format(**{
                    name: quote(str(value), safe="")
                    for name, value in request.path_params.items()}))
                if deprecation.is_past_sunset(clock()):
                    raise ApiError(410, "gone", f"{request.url.path} was retired on "
                                   f"{headers['Sunset']}; use {deprecation.successor}",
                                   headers=headers)
                try:
                    response = await handler(request)
                except ApiError as exc:
                    exc.headers = {**(exc.headers or {}), **headers}
                    raise
                except HTTPException as exc:
                    exc.headers = {**(exc.headers or {}), **headers}
                    raise
                response.headers.update(headers)
                return response

            return answer_with_headers

    return DeprecatedRoute


def add_deprecated_route(router: APIRouter, path: str, endpoint: Callable[..., Any],
                         deprecation: Deprecation, *, methods: list[str] | None = None,
                         responses: dict[int | str, dict[str, Any]] | None = None,
                         clock: Callable[[], float] = time.time, **route: Any) -> None:
    """Register ``endpoint`` at ``path`` as deprecated (see the module docstring).
    ``deprecation.successor`` may name the path's parameters (``{workout_id}``); the Link
    of an answer has the request's values in them."""
    placeholders = {name for _, name, _, _ in string.Formatter().parse(deprecation.successor)
                    if name is not None}
    path_params = set(re.findall(r"{(\w+)(?::[^}]*)?}", path))
    if placeholders - path_params:
        raise ValueError(f"the successor {deprecation.successor!r} names "
                         f"{sorted(placeholders - path_params)}, not path parameters of {path}")
    documented = {**(responses or {}),
                  410: {"model": ErrorBody, "description": "Past its sunset: use the successor",
                        "headers": _documented_headers()}}
    status = route.get("status_code", 200)
    documented[status] = {**documented.get(status, {}), "headers": _documented_headers()}
    router.add_api_route(path, endpoint, methods=methods or ["GET"], deprecated=True,
                         responses=documented,
                         route_class_override=_route_class(deprecation, clock), **route)
