"""Test-environment shim: emulate Kafka's long poll on a broker that answers empty
fetches at once (the embedded noida-db ignores the fetch max wait).

Without it every idle consumer busy-spins and takes the CPU that a 2-core machine
needs for real work. A real Kafka broker holds an empty fetch for
``fetch.max.wait.ms`` itself, so production sets
``FITSTREAM_KAFKA__EMULATE_LONG_POLL_MS=0`` and nothing here runs.

* aiokafka (Faust): after a fetch response that added no records, the fetch task
  waits before that broker is asked again.
* librdkafka (confluent-kafka): consumers pause their partitions for the same
  delay after an empty poll (see :func:`idle_pause`).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

_installed_ms = 0


def install_aiokafka_long_poll(delay_ms: int) -> None:
    """Patch aiokafka's Fetcher once per process; a no-op for ``delay_ms <= 0``."""
    global _installed_ms  # noqa: PLW0603 - the patch is process-wide by nature
    if delay_ms <= 0 or _installed_ms:
        return
    from aiokafka.consumer.fetcher import Fetcher

    original = Fetcher._proc_fetch_request
    delay_s = delay_ms / 1000

    async def _proc_fetch_request(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
        before = len(self._records)
        result = await original(self, assignment, node_id, request)
        if len(self._records) <= before:
            try:
                await asyncio.sleep(delay_s)
            except asyncio.CancelledError:
                # Like the original: a cancelled fetch ends quietly, or close() fails.
                return False
        return result

    Fetcher._proc_fetch_request = _proc_fetch_request
    _installed_ms = delay_ms


def idle_pause(consumer: Any, delay_ms: int, stop: threading.Event) -> None:
    """After an empty poll: stop fetching for ``delay_ms`` (or until ``stop``)."""
    if delay_ms <= 0:
        return
    assignment = consumer.assignment()
    if not assignment:
        stop.wait(delay_ms / 1000)
        return
    consumer.pause(assignment)
    try:
        stop.wait(delay_ms / 1000)
    finally:
        consumer.resume(assignment)
