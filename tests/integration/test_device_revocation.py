"""Revoked device tokens (issue 9, finding 10) against the real broker: `fitstream devices
revoke` records a revocation on the compacted topic, and a running API (fitstream serve,
ingest only) refuses the token with 401 within a bounded wait."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from confluent_kafka import Producer

from api.revocations import device_key
from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.kafka.clients import producer_config
from fitstream.settings import FitStreamSettings
from fitstream.tokens import TokenKeys, issue_device_token
from tests.conftest import isolated
from tests.harness import free_port

pytestmark = pytest.mark.e2e

# How long a revocation may take to reach the API: the follower polls every 0.2 s and
# waits up to emulate_long_poll_ms after an empty poll; generous for a loaded machine.
REVOCATION_DEADLINE_S = 30
# Authenticated, then refused for its (empty) body: the token passed.
EMPTY_BATCH = {"events": []}


@pytest.fixture(scope="module")
def ingest_api(broker, tmp_path_factory):
    settings = isolated(broker, tmp_path_factory.mktemp("revocation"), "revocation")
    stack = LocalStack()
    stack.start(settings, "api-ingest", "serve", "--no-reads", "--no-sink")
    try:
        wait_for_api(settings, stack)
        yield settings
    finally:
        stack.stop()


def cli(settings: FitStreamSettings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], check=True,
                          capture_output=True, text=True, timeout=120,
                          env={**env, **settings.to_env()})


def ingest_status(settings: FitStreamSettings, token: str) -> int:
    return httpx.post(f"{api_url(settings)}/api/v1/ingest/events", json=EMPTY_BATCH,
                      headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def seconds_until_refused(settings: FitStreamSettings, token: str) -> float:
    """Seconds from now until the API answers 401 for ``token``; fails after the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < REVOCATION_DEADLINE_S:
        if ingest_status(settings, token) == 401:
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"the API still accepted the revoked token after {REVOCATION_DEADLINE_S}s")


def test_a_revoked_token_is_401_within_a_bounded_wait(ingest_api):
    settings = ingest_api
    keys = TokenKeys.from_settings(settings.api)
    token = issue_device_token(keys, "user-1", "watch-1", 3600)
    sibling = issue_device_token(keys, "user-1", "watch-1", 3600)
    assert ingest_status(settings, token) == 400  # authenticated; the batch is empty
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    cli(settings, "devices", "revoke", "--jti", jti, "--reason", "lost")
    waited = seconds_until_refused(settings, token)
    print(f"revocation by jti took effect after {waited:.2f}s")
    response = httpx.post(f"{api_url(settings)}/api/v1/ingest/events", json=EMPTY_BATCH,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.json()["message"] == "invalid device token: the token has been revoked"
    assert ingest_status(settings, sibling) == 400  # only that token


def test_revoking_a_device_covers_its_earlier_tokens_only(ingest_api):
    settings = ingest_api
    keys = TokenKeys.from_settings(settings.api)
    before = issue_device_token(keys, "user-2", "watch-2", 3600, now=time.time() - 5)
    other_device = issue_device_token(keys, "user-2", "watch-3", 3600, now=time.time() - 5)
    # Device ids are chosen by devices: another user's watch-2 is not user-2's.
    other_user = issue_device_token(keys, "user-3", "watch-2", 3600, now=time.time() - 5)
    assert ingest_status(settings, before) == 400
    revoked = cli(settings, "devices", "revoke", "--device", "watch-2", "--user", "user-2")
    revoked_at_ms = int(revoked.stderr.split(" at ")[-1])
    waited = seconds_until_refused(settings, before)
    print(f"revocation by device took effect after {waited:.2f}s")
    assert ingest_status(settings, other_device) == 400
    assert ingest_status(settings, other_user) == 400
    # iat has whole seconds: a token of the revocation's second counts as revoked.
    while int(time.time()) * 1000 <= revoked_at_ms:
        time.sleep(0.05)
    reissued = issue_device_token(keys, "user-2", "watch-2", 3600)
    assert ingest_status(settings, reissued) == 400


def test_a_malformed_revocation_record_does_not_stop_the_follower(ingest_api):
    """Before, the follower raised on the record, re-read the topic from its start and
    raised again, forever: later revocations never applied (and a new API stayed 503)."""
    settings = ingest_api
    keys = TokenKeys.from_settings(settings.api)
    token = issue_device_token(keys, "user-5", "watch-5", 3600, now=time.time() - 5)
    for value in (b"not json", b'{"reason": "no time"}'):
        publish_raw(settings, device_key("user-5", "watch-0"), value)
    cli(settings, "devices", "revoke", "--device", "watch-5", "--user", "user-5")
    seconds_until_refused(settings, token)


def publish_raw(settings: FitStreamSettings, key: bytes, value: bytes) -> None:
    producer = Producer(producer_config(settings.kafka))
    delivered: list = []
    producer.produce(settings.kafka.device_revocations_topic, key=key, value=value,
                     on_delivery=lambda err, _msg: delivered.append(err))
    producer.flush(30)
    assert delivered == [None]


def test_a_restarted_api_reads_the_revocations_before_accepting_device_tokens(ingest_api):
    """The topic is read whole at start: a second API process refuses at once."""
    settings = ingest_api
    keys = TokenKeys.from_settings(settings.api)
    token = issue_device_token(keys, "user-4", "watch-4", 3600, now=time.time() - 5)
    cli(settings, "devices", "revoke", "--device", "watch-4", "--user", "user-4")
    seconds_until_refused(settings, token)
    second = settings.model_copy(update={
        "api": settings.api.model_copy(update={"port": free_port()}),
        "state_dir": settings.state_dir / "second"})
    stack = LocalStack()
    stack.start(second, "api-ingest-2", "serve", "--no-reads", "--no-sink")
    try:
        wait_for_api(second, stack)
        assert ingest_status(second, token) == 401
    finally:
        stack.stop()
