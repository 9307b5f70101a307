"""Device bearer tokens: an HS256 JWT that binds a device to the user it records."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

AUDIENCE = "fitstream-ingest"


@dataclass(frozen=True)
class DeviceIdentity:
    user_id: str
    device_id: str


class InvalidToken(ValueError):
    pass


def issue_device_token(secret: str, user_id: str, device_id: str, ttl_s: int,
                       now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    claims = {"sub": user_id, "device_id": device_id, "aud": AUDIENCE, "iat": issued,
              "exp": issued + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_device_token(secret: str, token: str) -> DeviceIdentity:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["sub", "device_id", "exp"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return DeviceIdentity(claims["sub"], claims["device_id"])
