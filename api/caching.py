"""Conditional GETs: an ETag over the exact body, and the Cache-Control a view allows.

Views change as the stream moves, so public ones may be cached for a few seconds;
a client that sends the ETag back gets 304 without a body while nothing changed.
"""

import hashlib
from typing import Any, NamedTuple

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

PUBLIC_VIEW = "public, max-age=5"
# An owner-only view: the user's own client may keep it briefly, shared caches may not.
PRIVATE_VIEW = "private, max-age=5"


class Rendered(NamedTuple):
    """A JSON body and its ETag, computed once and answered as often as asked."""

    body: bytes
    etag: str


def render(payload: BaseModel | dict[str, Any]) -> Rendered:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    body = orjson.dumps(data)
    return Rendered(body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')


def conditional_rendered(request: Request, rendered: Rendered,
                         cache_control: str = PUBLIC_VIEW) -> Response:
    """The answer of a body rendered earlier: 304 if the client holds its ETag."""
    headers = {"ETag": rendered.etag, "Cache-Control": cache_control}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and rendered.etag in [tag.strip() for tag in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)


def conditional_json(request: Request, payload: BaseModel | dict[str, Any],
                     cache_control: str = PUBLIC_VIEW) -> Response:
    return conditional_rendered(request, render(payload), cache_control)


_CONDITIONAL = frozenset({"conditional_json", "conditional_rendered"})


def answers_conditionally(endpoint: Any, depth: int = 2) -> bool:
    """Whether a route's handler answers through :func:`conditional_json` or
    :func:`conditional_rendered` (then 304 and ETag are in its OpenAPI document, see
    api/openapi_document.py): it names one of them, or calls a handler of its router
    that does (a deprecated alias). Read from the handler's code, so a new conditional
    read is documented the day it is added; tests/unit/test_openapi_document.py pins
    the list."""
    code = getattr(endpoint, "__code__", None)
    if code is None:
        return False
    if _CONDITIONAL & set(code.co_names):
        return True
    cells = [cell.cell_contents for cell in (getattr(endpoint, "__closure__", None) or ())
             if cell.cell_contents is not None] if depth > 0 else []
    return any(callable(value) and hasattr(value, "__code__")
               and answers_conditionally(value, depth - 1) for value in cells)
