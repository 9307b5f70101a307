"""Bearer tokens, HS256 JWTs signed with a key of the API's key ring.

* Device tokens (audience ``fitstream-ingest``) bind a device to the user it
  records for: ingest refuses events of any other user or device. They live long
  (``api.device_token_ttl_s``) and can be revoked, one by its ``jti`` or every token
  of a device (``fitstream devices revoke``, :mod:`api.revocations`).
* User tokens (audience ``fitstream-api``) let a user read their own private
  views (details, routes, stats, notifications) and change their preferences.
  They cannot be revoked, so they live hours (``api.user_token_ttl_s``).
* Analyst tokens (audience ``fitstream-analytics``) let an analyst run read-only SQL
  through the process that owns the store (``fitstream sql`` in embedded mode).
* Admin tokens (audience ``fitstream-admin``) let ``fitstream jobs gdpr-erase`` ask the
  process that owns embedded chdb to erase a user from it (api/erasure.py); the job
  issues them itself from the API's signing key.

Every token carries a random ``jti`` and ``iat``/``exp``; its header names the key
that signed it (``kid``). New tokens are signed with the current key; a token is
accepted if its ``kid`` is the current key or one of ``api.token_accepted_secrets``,
so a key is rotated by making a new one current and keeping the old one accepted
until the last token it signed has expired. A token without a ``kid``, or with one the
ring does not hold, is refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from fitstream.settings import ApiSettings

DEVICE_AUDIENCE = "fitstream-ingest"
USER_AUDIENCE = "fitstream-api"
ANALYST_AUDIENCE = "fitstream-analytics"
ADMIN_AUDIENCE = "fitstream-admin"
# The secret in ApiSettings' default: public, so accepted only by the embedded demo and
# the tests (FitStreamSettings.allow_default_token_secret).
DEFAULT_SECRET = ApiSettings.model_fields["token_secret"].default.get_secret_value()
DEFAULT_KID = ApiSettings.model_fields["token_kid"].default


@dataclass(frozen=True)
class DeviceIdentity:
    user_id: str
    device_id: str
    jti: str = ""
    issued_at_s: int = 0


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True)
class TokenKeys:
    """The key ring: sign with ``current_kid``'s secret, verify with the secret the
    token's ``kid`` names."""

    current_kid: str
    secrets: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.current_kid not in self.secrets:
            raise ValueError(f"the current key {self.current_kid!r} has no secret")

    @classmethod
    def single(cls, secret: str, kid: str = DEFAULT_KID) -> TokenKeys:
        return cls(kid, {kid: secret})

    @classmethod
    def from_settings(cls, api: ApiSettings) -> TokenKeys:
        accepted = {kid: s.get_secret_value() for kid, s in api.token_accepted_secrets.items()}
        return cls(api.token_kid, {**accepted, api.token_kid: api.token_secret.get_secret_value()})

    def uses_default_secret(self) -> bool:
        return DEFAULT_SECRET in self.secrets.values()


def _ring(keys: TokenKeys | str) -> TokenKeys:
    """A plain secret is a ring of one key under the default kid (the demo and tests)."""
    return keys if isinstance(keys, TokenKeys) else TokenKeys.single(keys)


def _issue(keys: TokenKeys | str, claims: dict[str, Any], audience: str, ttl_s: int,
           now: float | None) -> str:
    ring = _ring(keys)
    issued = int(now if now is not None else time.time())
    return jwt.encode({**claims, "aud": audience, "iat": issued, "exp": issued + ttl_s,
                       "jti": secrets.token_urlsafe(16)},
                      ring.secrets[ring.current_kid], algorithm="HS256",
                      headers={"kid": ring.current_kid})


def _verify(keys: TokenKeys | str, token: str, audience: str,
            required: list[str]) -> dict[str, Any]:
    ring = _ring(keys)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or kid not in ring.secrets:
            raise InvalidToken("signed with a key (kid) this API does not accept")
        return jwt.decode(token, ring.secrets[kid], algorithms=["HS256"], audience=audience,
                          options={"require": [*required, "exp", "iat", "jti"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc


def issue_device_token(keys: TokenKeys | str, user_id: str, device_id: str, ttl_s: int,
                       now: float | None = None) -> str:
    return _issue(keys, {"sub": user_id, "device_id": device_id}, DEVICE_AUDIENCE, ttl_s,
                  now)


def verify_device_token(keys: TokenKeys | str, token: str) -> DeviceIdentity:
    """The device's identity (signature, audience and expiry checked; revocation is the
    caller's, see :class:`api.revocations.Revocations`); InvalidToken otherwise."""
    claims = _verify(keys, token, DEVICE_AUDIENCE, ["sub", "device_id"])
    return DeviceIdentity(claims["sub"], claims["device_id"], claims["jti"], claims["iat"])


def issue_user_token(keys: TokenKeys | str, user_id: str, ttl_s: int,
                     now: float | None = None) -> str:
    return _issue(keys, {"sub": user_id}, USER_AUDIENCE, ttl_s, now)


def verify_user_token(keys: TokenKeys | str, token: str) -> str:
    """The user id the token was issued to; InvalidToken otherwise."""
    return _verify(keys, token, USER_AUDIENCE, ["sub"])["sub"]


def issue_analyst_token(keys: TokenKeys | str, analyst: str, ttl_s: int,
                        now: float | None = None) -> str:
    return _issue(keys, {"sub": analyst}, ANALYST_AUDIENCE, ttl_s, now)


def verify_analyst_token(keys: TokenKeys | str, token: str) -> str:
    """The analyst's name; InvalidToken otherwise."""
    return _verify(keys, token, ANALYST_AUDIENCE, ["sub"])["sub"]


def issue_admin_token(keys: TokenKeys | str, admin: str, ttl_s: int,
                      now: float | None = None) -> str:
    """Signed with the key ring's current kid, like every other token (rotation)."""
    return _issue(keys, {"sub": admin}, ADMIN_AUDIENCE, ttl_s, now)


def verify_admin_token(keys: TokenKeys | str, token: str) -> str:
    """The admin's name; InvalidToken otherwise (any accepted kid of the ring)."""
    return _verify(keys, token, ADMIN_AUDIENCE, ["sub"])["sub"]


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
