"""The signed-in user of a request, for views only their owner may read."""

from fastapi import Request

from api.errors import ApiError
from api.tokens import InvalidToken, bearer, verify_user_token


def require_user(request: Request, secret: str) -> str:
    """The user id of the request's bearer token; ApiError 401 without a valid one."""
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise ApiError(401, "unauthorized", "a user bearer token is required",
                       headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify_user_token(secret, token)
    except InvalidToken as exc:
        raise ApiError(401, "unauthorized", f"invalid user token: {exc}",
                       headers={"WWW-Authenticate": "Bearer"}) from exc


def require_owner(user_id: str, owner_id: str, what: str) -> None:
    if user_id != owner_id:
        raise ApiError(403, "forbidden", f"only its owner may read this {what}")
