"""Who is calling: the identity in a request's bearer token, or a 401 with the error body."""

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

from api.errors import ApiError
from api.tokens import (
    DeviceIdentity,
    InvalidToken,
    bearer,
    verify_analyst_token,
    verify_device_token,
    verify_user_token,
)

Identity = TypeVar("Identity")


def authenticate(request: Request, verify: Callable[[str], Identity], kind: str) -> Identity:
    """The identity ``verify`` finds in the bearer token; ApiError 401 without a valid one."""
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "unauthorized", f"a {kind} bearer token is required",
                       headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify(token)
    except InvalidToken as exc:
        raise ApiError(401, "unauthorized", f"invalid {kind} token: {exc}",
                       headers={"WWW-Authenticate": "Bearer"}) from exc


def require_user(request: Request, secret: str) -> str:
    """The signed-in user, for views only their owner may read."""
    return authenticate(request, lambda token: verify_user_token(secret, token), "user")


def require_device(request: Request, secret: str) -> DeviceIdentity:
    """The device (and the user it records for) sending events."""
    return authenticate(request, lambda token: verify_device_token(secret, token), "device")


def require_analyst(request: Request, secret: str) -> str:
    """An analyst, for read-only SQL on the store."""
    return authenticate(request, lambda token: verify_analyst_token(secret, token), "analyst")


def require_owner(user_id: str, owner_id: str, what: str) -> None:
    if user_id != owner_id:
        raise ApiError(403, "forbidden", f"only its owner may read this {what}")
