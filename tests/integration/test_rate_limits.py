"""Rate limits over HTTP against running APIs (`fitstream serve`), with tiny limits in the
settings: the N+1th request of one identity is 429 with Retry-After and the error body,
another identity is not affected, and once the window has passed the identity is served
again. The counts live in memory (one process) or in Redis, where two API replicas share
them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.api_client import api_url
from fitstream.settings import ApiSettings, FitStreamSettings, RateLimitSettings
from fitstream.tokens import TokenKeys, issue_device_token, issue_user_token
from tests.conftest import isolated
from tests.harness import free_port, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 3
WINDOW_S = 3
TINY = f"{LIMIT}/{WINDOW_S} seconds"
REDIS_URI = "redis://127.0.0.1:6379/0"
# Authenticated, then refused for its (empty) body: the device was charged.
EMPTY_BATCH = {"events": []}


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URI, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def limited(settings: FitStreamSettings, storage_uri: str) -> FitStreamSettings:
    return settings.model_copy(update={"rate_limits": RateLimitSettings(
        storage_uri=storage_uri, device=TINY, user=TINY, failed_auth=TINY)})


@pytest.fixture(scope="module")
def memory_api(broker, tmp_path_factory) -> Iterator[FitStreamSettings]:
    """Ingest and reads (user tokens) in one process, counts in memory."""
    settings = limited(isolated(broker, tmp_path_factory.mktemp("limits"), "limits"),
                       "memory://")
    stack = LocalStack()
    stack.start(settings, "api", "serve", "--no-sink")
    try:
        wait_for_api(settings, stack)
        yield settings
    finally:
        stack.stop()


def ingest(settings: FitStreamSettings, token: str) -> httpx.Response:
    return httpx.post(f"{api_url(settings)}/api/v1/ingest/events", json=EMPTY_BATCH,
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)


def stats(settings: FitStreamSettings, user: str, token: str) -> httpx.Response:
    return httpx.get(f"{api_url(settings)}/api/v1/users/{user}/stats",
                     params={"window": "month", "period": "2026-11"},
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)


def assert_rate_limited(response: httpx.Response, what: str) -> int:
    """The 429 and its body; its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= WINDOW_S
    body = response.json()
    assert body == {"error": "rate_limited", "code": 429,
                    "message": f"too many requests for this {what}; retry in {retry_after} s",
                    "details": {"retry_after_s": int(retry_after)}}
    return int(retry_after)


def wait_until_served(call, served_status: int, retry_after_s: int) -> float:
    """Seconds from now until ``call()`` is served again; never sooner than Retry-After
    said, less a second of rounding."""
    started = time.monotonic()
    wait_until(lambda: call().status_code == served_status, "the window to pass",
               stall_s=WINDOW_S * 10, poll_s=0.25)
    waited = time.monotonic() - started
    assert waited >= retry_after_s - 1, (waited, retry_after_s)
    return waited


def test_the_device_over_its_limit_gets_429_and_other_devices_do_not(memory_api):
    settings = memory_api
    keys = TokenKeys.from_settings(settings.api)
    user = f"user-{uuid.uuid4().hex[:8]}"
    token = issue_device_token(keys, user, "watch-1", 3600)
    # A second token for the same device shares its limit: the key is the device, not
    # the token string.
    same_device = issue_device_token(keys, user, "watch-1", 3600)
    other_device = issue_device_token(keys, user, "phone-1", 3600)
    statuses = [ingest(settings, t).status_code
                for t in [token] * (LIMIT - 1) + [same_device]]
    assert statuses == [400] * LIMIT  # authenticated (then refused for the empty batch)
    retry_after = assert_rate_limited(ingest(settings, token), "device")
    assert_rate_limited(ingest(settings, same_device), "device")
    assert ingest(settings, other_device).status_code == 400
    wait_until_served(lambda: ingest(settings, token), 400, retry_after)


def test_the_user_over_its_limit_gets_429_and_other_users_do_not(memory_api):
    settings = memory_api
    keys = TokenKeys.from_settings(settings.api)
    user, other = (f"user-{uuid.uuid4().hex[:8]}" for _ in range(2))
    token = issue_user_token(keys, user, 3600)
    assert [stats(settings, user, token).status_code for _ in range(LIMIT)] == [200] * LIMIT
    retry_after = assert_rate_limited(stats(settings, user, token), "user")
    assert stats(settings, other, issue_user_token(keys, other, 3600)).status_code == 200
    wait_until_served(lambda: stats(settings, user, token), 200, retry_after)


def test_an_address_sending_bad_tokens_is_refused_before_verification(memory_api):
    settings = memory_api
    keys = TokenKeys.from_settings(settings.api)
    good = issue_device_token(keys, f"user-{uuid.uuid4().hex[:8]}", "watch-1", 3600)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    assert [ingest(settings, forged).status_code for _ in range(LIMIT)] == [401] * LIMIT
    # Now even a valid token from this address waits (it would be verified first) ...
    retry_after = assert_rate_limited(ingest(settings, good), "client address")
    # ... while a request without a token costs no verification and is served.
    assert httpx.get(f"{api_url(settings)}/healthcheck", timeout=10).status_code == 200
    wait_until_served(lambda: ingest(settings, good), 400, retry_after)


@pytest.mark.skipif(not redis_answers(), reason=f"no Redis at {REDIS_URI}")
def test_api_replicas_share_the_counts_in_redis(broker, tmp_path_factory):
    settings = limited(isolated(broker, tmp_path_factory.mktemp("limits-redis"),
                                "limits-redis"), REDIS_URI)
    replicas = [settings, settings.model_copy(update={"api": ApiSettings(port=free_port())})]
    stack = LocalStack()
    try:
        for i, replica in enumerate(replicas):
            stack.start(replica, f"api-{i}", "serve", "--no-reads", "--no-sink")
        for replica in replicas:
            wait_for_api(replica, stack)
        keys = TokenKeys.from_settings(settings.api)
        user = f"user-{uuid.uuid4().hex[:8]}"
        token = issue_device_token(keys, user, "watch-1", 3600)
        # Round robin, as a load balancer would: each replica sees fewer than LIMIT.
        statuses = [ingest(replicas[i % 2], token).status_code for i in range(LIMIT)]
        assert statuses == [400] * LIMIT
        retry_after = assert_rate_limited(ingest(replicas[LIMIT % 2], token), "device")
        assert_rate_limited(ingest(replicas[(LIMIT + 1) % 2], token), "device")
        other = issue_device_token(keys, user, "phone-1", 3600)
        assert ingest(replicas[0], other).status_code == 400
        wait_until_served(lambda: ingest(replicas[1], token), 400, retry_after)
    finally:
        stack.stop()
