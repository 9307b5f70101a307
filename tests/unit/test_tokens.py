"""Tokens: short-lived user tokens, a jti in each, key rotation by kid, device revocation
rules, and an API that refuses to start with the public default secret."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.app import DefaultSecretRefused, check_token_secret
from api.auth import CurrentAnalyst, CurrentDevice, CurrentUser, PathOwner, TokenVerifier
from api.errors import install_error_handlers
from api.revocations import Revocations, device_key, jti_key
from fitstream.domain.identifiers import ID_PATTERN
from fitstream.settings import ApiSettings, FitStreamSettings
from fitstream.tokens import (
    DEFAULT_SECRET,
    DeviceIdentity,
    TokenKeys,
    issue_analyst_token,
    issue_device_token,
    issue_user_token,
    verify_device_token,
)

OLD = "old-secret-of-at-least-32-bytes-0001"
NEW = "new-secret-of-at-least-32-bytes-0002"
ROTATED = TokenKeys("k2", {"k1": OLD, "k2": NEW})


def app_with(keys: TokenKeys, revocations: Revocations | None = None) -> TestClient:
    """A bare app with the real dependencies and error handlers, one route per kind."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = TokenVerifier(keys, revocations)

    @app.get("/user")
    def user(who: CurrentUser) -> dict:
        return {"user": who}

    @app.get("/users/{user_id}/own")
    def own(user_id: PathOwner) -> dict:
        return {"user": user_id}

    @app.get("/device")
    def device(who: CurrentDevice) -> dict:
        return {"user": who.user_id, "device": who.device_id}

    @app.get("/analyst")
    def analyst(who: CurrentAnalyst) -> dict:
        return {"analyst": who}

    return TestClient(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_expired_user_token_is_401_and_user_tokens_live_hours():
    client = app_with(ROTATED)
    ttl = ApiSettings().user_token_ttl_s
    assert 3600 <= ttl <= 24 * 3600
    fresh = issue_user_token(ROTATED, "user-1", ttl)
    expired = issue_user_token(ROTATED, "user-1", ttl, now=time.time() - ttl - 1)
    assert client.get("/user", headers=bearer(fresh)).json() == {"user": "user-1"}
    response = client.get("/user", headers=bearer(expired))
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "expired" in response.json()["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_token_has_a_jti_and_the_current_kid():
    tokens = [issue_user_token(ROTATED, "u", 60), issue_analyst_token(ROTATED, "a", 60),
              issue_device_token(ROTATED, "u", "d", 60)]
    jtis = set()
    for token in tokens:
        assert jwt.get_unverified_header(token)["kid"] == "k2"
        jtis.add(jwt.decode(token, options={"verify_signature": False})["jti"])
    assert len(jtis) == 3 and all(len(j) >= 16 for j in jtis)


def test_an_old_but_accepted_kid_works_and_an_unknown_kid_fails():
    client = app_with(ROTATED)
    by_old_key = issue_user_token(TokenKeys.single(OLD, "k1"), "user-1", 60)
    assert client.get("/user", headers=bearer(by_old_key)).status_code == 200
    for token in (
        issue_user_token(TokenKeys.single(OLD, "k0"), "user-1", 60),  # kid not in the ring
        issue_user_token(TokenKeys.single(NEW, "k1"), "user-1", 60),  # right kid, wrong key
        jwt.encode({"sub": "user-1", "aud": "fitstream-api", "iat": int(time.time()),
                    "exp": int(time.time()) + 60, "jti": "x"}, NEW, algorithm="HS256"),
    ):
        response = client.get("/user", headers=bearer(token))
        assert response.status_code == 401, token
    # Retired: once k1 leaves the ring, its tokens stop working.
    assert app_with(TokenKeys.single(NEW, "k2")).get(
        "/user", headers=bearer(by_old_key)).status_code == 401


def test_the_key_ring_comes_from_the_settings():
    api = ApiSettings(token_secret=NEW, token_kid="k2", token_accepted_secrets={"k1": OLD})
    assert TokenKeys.from_settings(api) == ROTATED
    assert not TokenKeys.from_settings(api).uses_default_secret()
    assert TokenKeys.from_settings(ApiSettings()).uses_default_secret()


def test_tokens_of_one_audience_do_not_open_another():
    client = app_with(ROTATED)
    user = issue_user_token(ROTATED, "user-1", 60)
    device = issue_device_token(ROTATED, "user-1", "watch-1", 60)
    analyst = issue_analyst_token(ROTATED, "ana", 60)
    assert [client.get(path, headers=bearer(token)).status_code for path, token in (
        ("/user", device), ("/device", user), ("/analyst", user), ("/user", analyst))] == [
        401] * 4
    assert client.get("/analyst", headers=bearer(analyst)).json() == {"analyst": "ana"}


def test_owner_routes_are_401_without_a_token_then_403_for_someone_else():
    client = app_with(ROTATED)
    assert client.get("/users/user-1/own").status_code == 401
    other = bearer(issue_user_token(ROTATED, "user-2", 60))
    assert client.get("/users/user-1/own", headers=other).status_code == 403
    owner = bearer(issue_user_token(ROTATED, "user-1", 60))
    assert client.get("/users/user-1/own", headers=owner).json() == {"user": "user-1"}


def test_revoked_device_tokens_are_401_and_device_tokens_wait_for_the_list():
    revocations = Revocations()
    client = app_with(ROTATED, revocations)
    token = issue_device_token(ROTATED, "user-1", "watch-1", 3600)
    assert client.get("/device", headers=bearer(token)).status_code == 503  # fail closed
    revocations.loaded.set()
    assert client.get("/device", headers=bearer(token)).status_code == 200
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    revocations.apply(jti_key(jti), b'{"revoked_at": 1, "reason": "lost"}')
    response = client.get("/device", headers=bearer(token))
    assert (response.status_code, response.json()["message"]) == (
        401, "invalid device token: the token has been revoked")
    revocations.apply(jti_key(jti), None)  # a tombstone lifts it
    assert client.get("/device", headers=bearer(token)).status_code == 200


@given(issued_s=st.integers(1_700_000_000, 1_900_000_000),
       revoked_ms=st.integers(1_700_000_000_000, 1_900_000_000_000),
       other_device=st.booleans())
def test_a_device_revocation_covers_exactly_its_tokens_issued_until_then(
        issued_s, revoked_ms, other_device):
    revocations = Revocations()
    revocations.apply(device_key("user-1", "watch-1"),
                      f'{{"revoked_at": {revoked_ms}}}'.encode())
    device = DeviceIdentity("user-1", "watch-2" if other_device else "watch-1", "j", issued_s)
    assert revocations.is_revoked(device) == (
        not other_device and issued_s * 1000 <= revoked_ms)
    # Device ids are chosen by devices: another user's watch-1 is not revoked.
    assert not revocations.is_revoked(DeviceIdentity("user-2", "watch-1", "j", issued_s))


@given(user=st.from_regex(ID_PATTERN, fullmatch=True),
       device=st.from_regex(ID_PATTERN, fullmatch=True),
       other_user=st.from_regex(ID_PATTERN, fullmatch=True),
       other_device=st.from_regex(ID_PATTERN, fullmatch=True))
def test_a_device_revocation_names_exactly_one_user_and_device(
        user, device, other_user, other_device):
    """Ids may hold ':', so the key must not be ambiguous (user 'a:b' device 'c' against
    user 'a' device 'b:c')."""
    revocations = Revocations()
    revocations.apply(device_key(user, device), b'{"revoked_at": 9999999999999}')
    assert revocations.is_revoked(DeviceIdentity(user, device, "j", 1))
    assert revocations.is_revoked(DeviceIdentity(other_user, other_device, "j", 1)) == (
        (other_user, other_device) == (user, device))


@pytest.mark.parametrize("value", [b"not json", b"{}", b'{"revoked_at": "soon"}',
                                   b'{"revoked_at": null}', b"[1]", b'{"revoked_at": 1e999}'])
def test_a_malformed_revocation_is_skipped_and_the_next_ones_apply(value):
    revocations = Revocations()
    revocations.apply(device_key("user-1", "watch-1"), value)
    revocations.apply(device_key("user-1", "watch-2"), b'{"revoked_at": 5000}')
    assert not revocations.is_revoked(DeviceIdentity("user-1", "watch-1", "j", 1))
    assert revocations.is_revoked(DeviceIdentity("user-1", "watch-2", "j", 1))


def test_a_device_revocation_of_the_old_form_names_no_user_and_is_ignored():
    revocations = Revocations()
    revocations.apply(b"device:watch-1", b'{"revoked_at": 5000}')
    assert not revocations.is_revoked(DeviceIdentity("user-1", "watch-1", "j", 1))


def test_a_device_token_names_its_jti_and_issue_time():
    token = issue_device_token(ROTATED, "user-1", "watch-1", 60, now=1_800_000_000)
    identity = verify_device_token(ROTATED, issue_device_token(ROTATED, "user-1", "watch-1",
                                                               10**10))
    assert identity.user_id == "user-1" and identity.device_id == "watch-1" and identity.jti
    assert jwt.decode(token, options={"verify_signature": False})["iat"] == 1_800_000_000


def test_the_default_secret_is_refused_unless_allowed():
    with pytest.raises(DefaultSecretRefused):
        check_token_secret(FitStreamSettings(allow_default_token_secret=False))
    check_token_secret(FitStreamSettings(allow_default_token_secret=True))
    check_token_secret(FitStreamSettings(allow_default_token_secret=False,
                                         api=ApiSettings(token_secret=NEW)))
    # A retired key that is the default still lets anyone sign: refused too.
    with pytest.raises(DefaultSecretRefused):
        check_token_secret(FitStreamSettings(allow_default_token_secret=False, api=ApiSettings(
            token_secret=NEW, token_kid="k2", token_accepted_secrets={"dev": DEFAULT_SECRET})))


def test_fitstream_serve_refuses_to_start_with_the_default_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve"], check=False, capture_output=True,
        text=True, timeout=120,
        env={**env, "FITSTREAM_STATE_DIR": str(tmp_path), "FITSTREAM_API__PORT": "1"})
    assert result.returncode != 0
    assert "token secret is the public default" in result.stderr
    assert time.monotonic() - started < 120
    assert not (tmp_path / "clickhouse").exists()  # refused before opening anything
