"""Bearer tokens, HS256 JWTs signed with the API secret.

* Device tokens (audience ``fitstream-ingest``) bind a device to the user it
  records for: ingest refuses events of any other user or device.
* User tokens (audience ``fitstream-api``) let a user read their own private
  views (details, routes, stats, notifications) and change their preferences.
* Analyst tokens (audience ``fitstream-analytics``) let an analyst run read-only SQL
  through the process that owns the store (``fitstream sql`` in embedded mode).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

DEVICE_AUDIENCE = "fitstream-ingest"
USER_AUDIENCE = "fitstream-api"
ANALYST_AUDIENCE = "fitstream-analytics"


@dataclass(frozen=True)
class DeviceIdentity:
    user_id: str
    device_id: str


class InvalidToken(ValueError):
    pass


def _issue(secret: str, claims: dict[str, Any], audience: str, ttl_s: int,
           now: float | None) -> str:
    issued = int(now if now is not None else time.time())
    return jwt.encode({**claims, "aud": audience, "iat": issued, "exp": issued + ttl_s},
                      secret, algorithm="HS256")


def _verify(secret: str, token: str, audience: str, required: list[str]) -> dict[str, Any]:
    try:
        return jwt.decode(token, secret, algorithms=["HS256"], audience=audience,
                          options={"require": [*required, "exp"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc


def issue_device_token(secret: str, user_id: str, device_id: str, ttl_s: int,
                       now: float | None = None) -> str:
    return _issue(secret, {"sub": user_id, "device_id": device_id}, DEVICE_AUDIENCE, ttl_s,
                  now)


def verify_device_token(secret: str, token: str) -> DeviceIdentity:
    claims = _verify(secret, token, DEVICE_AUDIENCE, ["sub", "device_id"])
    return DeviceIdentity(claims["sub"], claims["device_id"])


def issue_user_token(secret: str, user_id: str, ttl_s: int, now: float | None = None) -> str:
    return _issue(secret, {"sub": user_id}, USER_AUDIENCE, ttl_s, now)


def verify_user_token(secret: str, token: str) -> str:
    """The user id the token was issued to; InvalidToken otherwise."""
    return _verify(secret, token, USER_AUDIENCE, ["sub"])["sub"]


def issue_analyst_token(secret: str, analyst: str, ttl_s: int, now: float | None = None) -> str:
    return _issue(secret, {"sub": analyst}, ANALYST_AUDIENCE, ttl_s, now)


def verify_analyst_token(secret: str, token: str) -> str:
    """The analyst's name; InvalidToken otherwise."""
    return _verify(secret, token, ANALYST_AUDIENCE, ["sub"])["sub"]


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
