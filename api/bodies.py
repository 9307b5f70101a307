"""Request bodies read by a dependency, so that the caller is checked first.

A route that declares its identity dependency (``CurrentAnalyst``, ``PathOwner``) before
``json_body(Model)`` authenticates (401) and authorises (403) before the body is read:
an anonymous or foreign caller never gets a parse or validation error about a body they
may not send. The body is capped by the app's BodySizeLimit; not JSON is 400
``invalid_json`` and JSON that is no ``Model`` is 422, as FastAPI's own bodies are
(api/errors.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency that reads the request body as a ``model``."""

    async def read_body(request: Request) -> Model:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(
                [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]) from exc

    return read_body


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The route's ``openapi_extra``: FastAPI does not see a body read by a dependency."""
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": model.model_json_schema()}}}}
