"""One error body for every failure: {"error", "message", "code", "details"}.

``error`` is a stable machine-readable slug, ``code`` the HTTP status,
``details`` a list (for example one entry per bad event) or an object.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorBody(BaseModel):
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message, exc.details, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, _SLUGS.get(exc.status_code, "http_error"),
                              str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": ".".join(str(p) for p in err["loc"]), "reason": err["msg"]}
                   for err in exc.errors()]
        return error_response(422, "validation_failed", "request parameters are invalid",
                              details)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        import structlog

        structlog.get_logger("api").exception("unhandled_error")
        return error_response(500, "internal_error", "an unexpected error occurred",
                              {"type": type(exc).__name__})
