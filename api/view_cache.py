"""Short-lived answers of read queries, computed once however many requests ask.

Views change as the stream moves, and their public answers already say
``Cache-Control: max-age=5``. Within ``ttl_s`` (``FITSTREAM_API__VIEW_CACHE_TTL_S``,
1 s by default, 0 turns it off) an API process answers the same question from
memory: a leaderboard is loaded and ranked once per TTL, not once per reader, and
concurrent requests that miss the same key wait for the one that computes it.
Only answers that do not depend on the caller's own writes are cached here (the
inbox, which the caller changes, is not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

Value = TypeVar("Value")


class ViewCache:
    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The cached value of ``key``, or ``compute()``'s, kept for ``ttl_s``.

        Exceptions from ``compute`` propagate and cache nothing.
        """
        if self.ttl_s <= 0:
            return compute()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]  # type: ignore[return-value]
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]  # type: ignore[return-value]
            value = compute()
            now = time.monotonic()
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._evict(now)
                self._entries[key] = (now + self.ttl_s, value)
                self._computing.pop(key, None)
            return value

    def _evict(self, now: float) -> None:
        expired = [k for k, (expires, _) in self._entries.items() if expires <= now]
        for key in expired or list(self._entries)[: self.max_entries // 10]:
            del self._entries[key]
