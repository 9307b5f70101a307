"""Who is calling: the identity in a request's bearer token, or a 401 with the error body.

The app holds one :class:`TokenVerifier` (the key ring of the settings, and for ingest
the device revocations) in ``app.state.token_verifier``. Routes declare who may call
them with the dependencies below (``CurrentUser``, ``CurrentDevice``,
``CurrentAnalyst``, ``owner_of_path``): FastAPI's ``HTTPBearer`` puts the bearer scheme
in the OpenAPI document (the Authorize button of /docs), and a dependency declared
before a body is resolved before the body is read, so an anonymous or foreign caller
gets 401/403, never a parse or validation error about a body they may not send.
"""

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import jwt
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.rate_limits import RateLimits
from api.revocations import Revocations
from fitstream.domain.identifiers import ID_PATTERN, InvalidIdentifier, check_id
from fitstream.tokens import (
    DeviceIdentity,
    InvalidToken,
    TokenKeys,
    bearer,
    verify_analyst_token,
    verify_device_token,
    verify_user_token,
)

Identity = TypeVar("Identity")


class VerifiedTokens:
    """Tokens already verified, each with what it identifies, until its ``exp``.

    A signature check (PyJWT, HMAC) cost as much as the rest of a cached read. A token
    that verified once stays valid until it expires (the key ring of a process does not
    change, and ``iat``/``nbf`` only move further into the past), so the identity is kept
    until ``exp`` and the token is verified again after. Only valid tokens enter, so a
    caller cannot fill it with garbage; at ``max_entries`` the expired ones go, and all
    of them if none had expired. Revocation is not cached: it is checked on every call.
    """

    def __init__(self, max_entries: int = 65_536,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[Any, float]] = {}

    def get(self, kind: str, token: str, verify: Callable[[str], Identity]) -> Identity:
        entry = self._entries.get((kind, token))
        now = self.clock()
        if entry is not None and now < entry[1]:
            return entry[0]
        identity = verify(token)
        # exp was required and checked by ``verify``; PyJWT's own rule is now < exp.
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        if len(self._entries) >= self.max_entries:
            live = {k: v for k, v in self._entries.items() if now < v[1]}
            self._entries = live if len(live) < self.max_entries else {}
        self._entries[(kind, token)] = (identity, expires)
        return identity


class TokenVerifier:
    """Verifies tokens against the key ring; device tokens also against the revocations
    (None: this process serves no ingest and follows no revocation topic).

    With ``rate_limits``, each verified identity is charged one request (api/
    rate_limits.py): call one of ``user``/``analyst``/``device`` once per request."""

    def __init__(self, keys: TokenKeys, revocations: Revocations | None = None,
                 rate_limits: RateLimits | None = None) -> None:
        self.keys = keys
        self.revocations = revocations
        self.rate_limits = rate_limits
        self._verified = VerifiedTokens()

    def _before_verification(self) -> None:
        # Only tokens missing from the verified cache get here (VerifiedTokens.get): an
        # address over its failed-auth limit is refused new verifications, while tokens
        # verified earlier keep working (they may share the address behind a balancer).
        if self.rate_limits is not None:
            self.rate_limits.before_verification()

    def _charge(self, kind: str, *key: str) -> None:
        if self.rate_limits is not None:
            self.rate_limits.charge(kind, *key)

    def user(self, token: str) -> str:
        user = self._verified.get("user", token, self._verify_user)
        self._charge("user", "user", user)
        return user

    def analyst(self, token: str) -> str:
        analyst = self._verified.get("analyst", token, self._verify_analyst)
        self._charge("user", "analyst", analyst)  # named apart from user ids
        return analyst

    def _verify_user(self, token: str) -> str:
        self._before_verification()
        return verify_user_token(self.keys, token)

    def _verify_analyst(self, token: str) -> str:
        self._before_verification()
        return verify_analyst_token(self.keys, token)

    def _verify_device(self, token: str) -> DeviceIdentity:
        self._before_verification()
        return verify_device_token(self.keys, token)

    def device(self, token: str) -> DeviceIdentity:
        device = self._verified.get("device", token, self._verify_device)
        if self.revocations is not None:
            if not self.revocations.loaded.is_set():
                raise ApiError(503, "unavailable",
                               "device revocations are not loaded yet; retry shortly",
                               headers={"Retry-After": "1"})
            if self.revocations.is_revoked(device):
                raise InvalidToken("the token has been revoked")
        # Device ids are unique per user, not globally.
        self._charge("device", device.user_id, device.device_id)
        return device


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def _verify(token: str | None, verify: Callable[[str], Identity], kind: str) -> Identity:
    if token is None:
        article = "an" if kind[0] in "aeio" else "a"  # a user, an analyst
        raise _unauthorized(f"{article} {kind} bearer token is required")
    try:
        return verify(token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid {kind} token: {exc}") from exc


def verifier_of(request: Request, secret: str | None = None) -> TokenVerifier:
    """The app's verifier; a plain ``secret`` only for an app built without one."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        if secret is None:
            raise RuntimeError("the app has no token_verifier")
        verifier = TokenVerifier(TokenKeys.single(secret))
    return verifier


def authenticate(request: Request, verify: Callable[[str], Identity], kind: str) -> Identity:
    """The identity ``verify`` finds in the bearer token; ApiError 401 without a valid one."""
    return _verify(bearer(request.headers.get("authorization")), verify, kind)


# Call sites that have not moved to the dependencies yet pass the secret they were
# built with; the app's verifier (key ring and revocations of the same settings) wins.
def require_user(request: Request, secret: str | None = None) -> str:
    """The signed-in user, for views only their owner may read."""
    return authenticate(request, verifier_of(request, secret).user, "user")


def require_device(request: Request, secret: str | None = None) -> DeviceIdentity:
    """The device (and the user it records for) sending events; revoked tokens are 401."""
    return authenticate(request, verifier_of(request, secret).device, "device")


def require_analyst(request: Request, secret: str | None = None) -> str:
    """An analyst, for read-only SQL on the store."""
    return authenticate(request, verifier_of(request, secret).analyst, "analyst")


def require_owner(user_id: str, owner_id: str, what: str) -> None:
    if user_id != owner_id:
        raise ApiError(403, "forbidden", f"only its owner may read this {what}")


# The dependencies below are ``async`` although they never wait: FastAPI runs a plain
# function on a worker thread, a hop per request that queued behind the GIL at 1,000
# requests/s; these only compute, so the event loop runs them in place.

# auto_error=False: a missing or non-bearer header is our 401 with the error body, not
# FastAPI's 403.
user_scheme = HTTPBearer(scheme_name="userToken", auto_error=False,
                          description="`fitstream users token --user ID`: hours")
device_scheme = HTTPBearer(scheme_name="deviceToken", auto_error=False,
                            description="`fitstream devices token`: revocable")
_analyst_scheme = HTTPBearer(scheme_name="analystToken", auto_error=False,
                             description="`fitstream analysts token`")
Credentials = HTTPAuthorizationCredentials | None


async def _current_user(request: Request, credentials: Annotated[Credentials, Depends(user_scheme)],
                  ) -> str:
    return _verify(credentials and credentials.credentials, verifier_of(request).user, "user")


async def _current_device(request: Request,
                    credentials: Annotated[Credentials, Depends(device_scheme)],
                    ) -> DeviceIdentity:
    return _verify(credentials and credentials.credentials, verifier_of(request).device,
                   "device")


async def _current_analyst(request: Request,
                     credentials: Annotated[Credentials, Depends(_analyst_scheme)]) -> str:
    return _verify(credentials and credentials.credentials, verifier_of(request).analyst,
                   "analyst")


CurrentUser = Annotated[str, Depends(_current_user)]
CurrentDevice = Annotated[DeviceIdentity, Depends(_current_device)]
CurrentAnalyst = Annotated[str, Depends(_current_analyst)]

def checked_id(field: str, value: str) -> str:
    """``value`` if it is a valid id, else ApiError 400 ``invalid_id`` naming ``field``."""
    try:
        return check_id(field, value)
    except InvalidIdentifier as exc:
        raise ApiError(400, "invalid_id", str(exc)) from exc


# Path parameters: externally chosen ids match the one id pattern, or the request is
# 400 invalid_id, as every other entry refuses them (ingest, the admin erasure, the CLI).
# The pattern is in the OpenAPI document; the dependency enforces it (a FastAPI
# Path(pattern=) would answer 422 instead).
async def path_user_id(user_id: Annotated[str, Path(
        description="A user id", json_schema_extra={"pattern": ID_PATTERN})]) -> str:
    return checked_id("user_id", user_id)


async def path_workout_id(workout_id: Annotated[str, Path(
        description="A workout id", json_schema_extra={"pattern": ID_PATTERN})]) -> str:
    return checked_id("workout_id", workout_id)


UserIdPath = Annotated[str, Depends(path_user_id)]
WorkoutIdPath = Annotated[str, Depends(path_workout_id)]


async def owner_of_path(user: CurrentUser, user_id: UserIdPath) -> str:
    """The path's user, if the caller is signed in as that user: 401, 400, then 403."""
    if user != user_id:
        raise ApiError(403, "forbidden", f"only {user_id} may use this")
    return user_id


PathOwner = Annotated[str, Depends(owner_of_path)]
