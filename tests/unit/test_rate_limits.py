"""Rate limits against a storage that fails: a Redis that accepts connections and never
answers costs one bounded wait (storage_timeout_s), then the limits fail open for
storage_retry_s (counted in fitstream_rate_limit_errors_total); and the settings refuse
a moving window kept in process memory."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from api.rate_limits import RateLimits
from fitstream.observability import metrics
from fitstream.settings import RateLimitSettings


@pytest.fixture
def silent_redis() -> Iterator[int]:
    """A port whose listener completes every TCP handshake (the kernel's backlog) and
    never reads or answers: a hung Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def errors() -> float:
    return metrics.RATE_LIMIT_ERRORS._value.get()


def test_a_hung_redis_costs_one_bounded_wait_then_requests_pass_unlimited(silent_redis):
    limits = RateLimits(RateLimitSettings(
        storage_uri=f"redis://127.0.0.1:{silent_redis}/1", device="1/minute",
        storage_timeout_s=0.25, storage_retry_s=30))
    before = errors()
    outcome: list[float] = []

    def charge_twice() -> None:
        started = time.monotonic()
        limits.charge("device", "user-1", "watch-1")
        outcome.append(time.monotonic() - started)
        started = time.monotonic()
        limits.charge("device", "user-1", "watch-1")  # over 1/minute, were it counted
        outcome.append(time.monotonic() - started)

    # A thread, so that a client without a timeout fails the test instead of hanging it.
    charging = threading.Thread(target=charge_twice, daemon=True)
    charging.start()
    charging.join(10)
    assert not charging.is_alive(), "the limiter waited on Redis without a timeout"
    first, second = outcome
    assert 0.2 <= first < 2, first  # the timeout (retries included), not forever
    assert second < 0.05, second  # paused: the storage is not asked again
    assert errors() == before + 1


def test_the_limits_use_the_storage_again_after_the_pause(silent_redis):
    now = [0.0]
    limits = RateLimits(RateLimitSettings(
        storage_uri=f"redis://127.0.0.1:{silent_redis}/1", storage_timeout_s=0.1,
        storage_retry_s=1), clock=lambda: now[0])
    before = errors()
    limits.check("failed_auth", "198.51.100.7")
    limits.check("failed_auth", "198.51.100.7")
    assert errors() == before + 1
    now[0] = 1.0
    limits.check("failed_auth", "198.51.100.7")
    assert errors() == before + 2


def test_a_moving_window_in_memory_is_refused():
    with pytest.raises(ValidationError, match="moving-window needs a redis://"):
        RateLimitSettings(strategy="moving-window")
    RateLimitSettings(strategy="moving-window", storage_uri="redis://127.0.0.1:6379/1")
