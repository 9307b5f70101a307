"""Conditional GETs: an ETag over the exact body, and the Cache-Control a view allows.

Views change as the stream moves, so public ones may be cached for a few seconds;
a client that sends the ETag back gets 304 without a body while nothing changed.
"""

import hashlib
from typing import Any

import orjson
from fastapi import Request, Response
from pydantic import BaseModel

PUBLIC_VIEW = "public, max-age=5"
# An owner-only view: the user's own client may keep it briefly, shared caches may not.
PRIVATE_VIEW = "private, max-age=5"


def conditional_json(request: Request, payload: BaseModel | dict[str, Any],
                     cache_control: str = PUBLIC_VIEW) -> Response:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    body = orjson.dumps(data)
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
