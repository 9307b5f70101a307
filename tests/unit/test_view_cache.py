"""The API's view cache: answers reused within the TTL, computed once under concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from api.view_cache import ViewCache


def test_an_answer_is_reused_within_the_ttl_and_recomputed_after():
    cache, calls = ViewCache(ttl_s=0.2), []
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert [cache.get("k", compute), cache.get("k", compute)] == [1, 1]
    assert cache.get("other", compute) == 2
    time.sleep(0.25)
    assert cache.get("k", compute) == 3


def test_concurrent_misses_of_one_key_compute_once():
    cache, calls, gate = ViewCache(ttl_s=10), [], threading.Event()

    def slow() -> str:
        calls.append(1)
        gate.wait(5)
        return "board"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert (results, len(calls)) == (["board"] * 8, 1)


def test_a_failed_computation_is_not_cached():
    cache = ViewCache(ttl_s=10)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("store down")))
    assert cache.get("k", lambda: "fine") == "fine"


def test_ttl_zero_reads_every_time_and_the_size_is_bounded():
    calls = []
    off = ViewCache(ttl_s=0)
    assert [off.get("k", lambda: calls.append(1) or len(calls)) for _ in range(3)] == [1, 2, 3]
    small = ViewCache(ttl_s=10, max_entries=10)
    for i in range(100):
        small.get(i, lambda i=i: i)
    assert len(small._entries) <= 10


def test_on_the_event_loop_a_stale_answer_is_served_while_one_refresh_runs():
    import asyncio

    async def scenario() -> list:
        cache, calls = ViewCache(ttl_s=0.2), []

        def compute() -> int:
            calls.append(1)
            time.sleep(0.05)
            return len(calls)

        seen = [await cache.get_async("k", compute)]  # a miss: computed
        await asyncio.sleep(0.25)  # stale, within twice the TTL
        seen += [await cache.get_async("k", compute) for _ in range(5)]
        await asyncio.sleep(0.1)  # the one refresh has landed
        seen.append(await cache.get_async("k", compute))
        await asyncio.sleep(0.45)  # older than twice the TTL: computed before answering
        seen.append(await cache.get_async("k", compute))
        return seen

    assert asyncio.run(scenario()) == [1, 1, 1, 1, 1, 1, 2, 3]
