"""One error body for every failure: {"error", "message", "code", "details"}.

``error`` is a stable machine-readable slug, ``code`` the HTTP status,
``details`` a list (for example one entry per bad event) or an object.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match


class ErrorBody(BaseModel):
    """Every failure's body: ``error`` a stable slug, ``code`` the HTTP status."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "forbidden", "message": "only its owner may read this workout",
         "code": 403, "details": None},
        {"error": "invalid_events", "message": "1 of 2 events break their contract",
         "code": 400, "details": [{"index": 1, "reason": "heart_rate: 400 is above 250",
                                   "event_id": "e-2"}]}]})

    error: str
    message: str
    code: int
    details: list[Any] | dict[str, Any] | None = None


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str,
                 details: list[Any] | dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = details
        self.headers = headers


def error_response(status: int, error: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorBody(error=error, message=message, code=status, details=details)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


_SLUGS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
          422: "validation_failed", 503: "unavailable"}

# Responses every route can give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Invalid parameters"},
}


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    """400 ``invalid_json`` for a body that is not JSON at all, else 422
    ``validation_failed`` with one detail per bad field."""
    errors = exc.errors()
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "invalid_json", "the body is not JSON",
                              [{"location": "body", "reason": str(err.get("ctx", {}).get(
                                  "error", err["msg"]))} for err in errors])
    details = [{"location": ".".join(str(p) for p in err["loc"]), "reason": err["msg"]}
               for err in errors]
    return error_response(422, "validation_failed", "request parameters are invalid", details)


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = {"description": description,
                "content": {"application/json": {"schema": _ERROR_REF}}}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


_UNAUTHORIZED = _error("A valid bearer token is required", {
    "WWW-Authenticate": _header("`Bearer`")})
# api/rate_limits.py: a verified device or user over its limit gets 429 on any route that
# takes its token, and an address over its failed-authentication limit gets 429 for
# every request that carries a token, on any route (public ones too).
_RATE_LIMITED = _error("Too many requests from this token or address: retry after "
                       "Retry-After", {
    "Retry-After": _header("Seconds until the limit admits a request again", "integer")})


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what every route really answers when it fails: the
    error body, not FastAPI's HTTPValidationError, for every error status a route
    documents; 400 and 413 wherever a body is read; 401 (with WWW-Authenticate) wherever
    a bearer token is required; 429 (with Retry-After) everywhere (api/rate_limits.py)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                # A route's responses={s: {"model": ErrorBody}} has FastAPI's generic
                # description; the schema is ours already.
                if status[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
            if "422" in responses:
                responses["422"] = _error("Invalid parameters or body")
            if "requestBody" in operation:
                responses.setdefault("400", _error("The body is not JSON"))
                responses.setdefault("413", _error("The body is too large"))
                responses.setdefault("422", _error("Invalid body"))
            if operation.get("security"):
                responses["401"] = copy.deepcopy(_UNAUTHORIZED)
            responses.setdefault("429", copy.deepcopy(_RATE_LIMITED))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return openapi


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves on this request's path (asked of the
    router per method: FastAPI nests included routers)."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in request.app.router.routes)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the methods of the first route whose path matched; a
            # path served by several routes (GET and PUT preferences) allows them all.
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return error_response(exc.status_code, _SLUGS.get(exc.status_code, "http_error"),
                              str(exc.detail), None, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        import structlog

        structlog.get_logger("api").exception("unhandled_error")
        return error_response(500, "internal_error", "an unexpected error occurred",
                              {"type": type(exc).__name__})
