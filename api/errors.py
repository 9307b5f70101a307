"""One error body for every failure: {"error", "message", "code", "details"}.

``error`` is a stable machine-readable slug, ``code`` the HTTP status,
``details`` a list (for example one entry per bad event) or an object.
"""

from __future__ import annotations

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
