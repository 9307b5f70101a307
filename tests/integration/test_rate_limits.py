"""Rate limits over HTTP against running APIs (`fitstream serve`), with tiny limits in the
settings: the N+1th request of one identity is 429 with Retry-After and the error body,
another identity is not affected, and once the window has passed the identity is served
again. The counts live in memory (one process) or in Redis, where two API replicas share
them. Client addresses are told apart by connecting from different loopback addresses
(127.0.0.2, 127.0.0.3...: Linux routes all of 127/8 to lo)."""

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


def limited(settings: FitStreamSettings, storage_uri: str, **limits: str) -> FitStreamSettings:
    return settings.model_copy(update={"rate_limits": RateLimitSettings(
        storage_uri=storage_uri, device=TINY, user=TINY, failed_auth=TINY, **limits)})


def client_at(address: str) -> httpx.Client:
    """A client whose requests come from ``address`` (a loopback address)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


@pytest.fixture(scope="module")
def memory_api(broker, tmp_path_factory) -> Iterator[FitStreamSettings]:
    """Ingest and reads (user tokens) in one process, counts in memory."""
    # Anonymous requests too: wait_for_api's come from 127.0.0.1, the tests' from others.
    settings = limited(isolated(broker, tmp_path_factory.mktemp("limits"), "limits"),
                       "memory://", anonymous=TINY)
    stack = LocalStack()
    stack.start(settings, "api", "serve", "--no-sink")
    try:
        wait_for_api(settings, stack)
        yield settings
    finally:
        stack.stop()


def ingest(settings: FitStreamSettings, token: str,
           client: httpx.Client | None = None) -> httpx.Response:
    return (client or httpx).post(f"{api_url(settings)}/api/v1/ingest/events", json=EMPTY_BATCH,
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
    # The first read of a cold store can take seconds; the LIMIT + 1 reads below must
    # land in one window.
    assert stats(settings, other, issue_user_token(keys, other, 3600)).status_code == 200
    assert [stats(settings, user, token).status_code for _ in range(LIMIT)] == [200] * LIMIT
    retry_after = assert_rate_limited(stats(settings, user, token), "user")
    assert stats(settings, other, issue_user_token(keys, other, 3600)).status_code == 200
    wait_until_served(lambda: stats(settings, user, token), 200, retry_after)


def test_an_address_sending_bad_tokens_is_refused_new_verifications_only(memory_api):
    settings = memory_api
    keys = TokenKeys.from_settings(settings.api)
    user = f"user-{uuid.uuid4().hex[:8]}"
    earlier = issue_device_token(keys, user, "phone-1", 3600)
    good = issue_device_token(keys, user, "watch-1", 3600)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    with client_at("127.0.0.2") as client:
        assert ingest(settings, earlier, client).status_code == 400  # verified, cached
        assert [ingest(settings, forged, client).status_code
                for _ in range(LIMIT)] == [401] * LIMIT
        # Now a token never verified waits (verifying is the work the limit protects) ...
        retry_after = assert_rate_limited(ingest(settings, good, client), "client address")
        assert_rate_limited(ingest(settings, forged, client), "client address")
        # ... while one verified earlier is served: behind a balancer the attacker and
        # every token holder may share one address.
        assert ingest(settings, earlier, client).status_code == 400
        # Other addresses are not affected.
        with client_at("127.0.0.4") as elsewhere:
            assert ingest(settings, good, elsewhere).status_code == 400
        wait_until_served(lambda: ingest(settings, forged, client), 401, retry_after)


def test_requests_without_a_token_are_limited_per_address(memory_api):
    """The balancer's address (a trusted forwarder: api.forwarded_allow_ips, 127.0.0.1
    by default) is replaced by the caller's from X-Forwarded-For; anyone else's header
    is ignored."""
    settings = memory_api
    url = f"{api_url(settings)}/healthcheck"
    with client_at("127.0.0.3") as client:
        assert [client.get(url).status_code for _ in range(LIMIT)] == [200] * LIMIT
        refused = client.get(url)
        retry_after = assert_rate_limited(refused, "client address")
        # Not a trusted forwarder: its X-Forwarded-For does not make it someone else.
        assert client.get(url, headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 429
        with client_at("127.0.0.1") as balancer:
            assert balancer.get(url, headers={"X-Forwarded-For": "203.0.113.7"}
                                ).status_code == 200
        wait_until_served(lambda: client.get(url), 200, retry_after)


def test_api_replicas_share_the_counts_in_redis(broker, tmp_path_factory):
    # Redis runs here and in CI: its absence is a failure, not a skip.
    assert redis.Redis.from_url(REDIS_URI, socket_timeout=1).ping(), f"no Redis at {REDIS_URI}"
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
