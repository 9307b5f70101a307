"""Short-lived answers of read queries, computed once however many requests ask.

Views change as the stream moves, and their public answers already say
``Cache-Control: max-age=5``. Within ``ttl_s`` (``FITSTREAM_API__VIEW_CACHE_TTL_S``,
5 s by default, 0 turns it off) an API process answers the same question from
memory: a leaderboard is loaded and ranked once per TTL, not once per reader, and
concurrent requests that miss the same key wait for the one that computes it.

On the event loop (:meth:`ViewCache.get_async`) an answer older than ``ttl_s``
but younger than twice that is still served while one fresher answer is
computed on a worker thread (stale-while-revalidate), so a steady reader never
waits for the store; older answers are recomputed before answering. Refreshes run one at
a time per event loop (:func:`refresh_slot`). Only answers
that do not depend on the caller's own writes are cached here (the inbox, which
the caller changes, is not).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import structlog
from anyio.to_thread import run_sync

log = structlog.get_logger("api.view_cache")

Value = TypeVar("Value")


def refresh_slot() -> asyncio.Semaphore:
    """The event loop's one slot for background refreshes (this cache's and the stats
    view's records, api/stats_view.py): one store read at a time off the request path."""
    loop = asyncio.get_running_loop()
    slot = _SLOTS.get(loop)
    if slot is None:
        slot = _SLOTS[loop] = asyncio.Semaphore(1)
    return slot


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())
MISSING: Any = object()
"""What :meth:`ViewCache.held` returns for a key it cannot answer from memory."""


class ViewCache:
    def __init__(self, ttl_s: float, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}  # key -> (computed at, value)
        self._computing: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    def _age(self, key: Hashable) -> tuple[float, Any] | None:
        entry = self._entries.get(key)
        return None if entry is None else (time.monotonic() - entry[0], entry[1])

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The value of ``key`` if younger than ``ttl_s``, else ``compute()``'s, stored.

        Exceptions from ``compute`` propagate and cache nothing.
        """
        if self.ttl_s <= 0:
            return compute()
        aged = self._age(key)
        if aged is not None and aged[0] < self.ttl_s:
            return aged[1]
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            aged = self._age(key)
            if aged is not None and aged[0] < self.ttl_s:
                return aged[1]
            value = compute()
            self._store(key, value)
            with self._lock:
                self._computing.pop(key, None)
            return value

    def held(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The hit path of :meth:`get_async` without a coroutine, on the event loop: the
        value if fresh, or up to twice ``ttl_s`` old while one refresh runs; else
        ``MISSING`` (then await :meth:`get_async`). For readers that look up
        dozens of keys per request."""
        aged = self._age(key) if self.ttl_s > 0 else None
        if aged is None or aged[0] >= 2 * self.ttl_s:
            return MISSING
        if aged[0] >= self.ttl_s and key not in self._refreshing:
            self._refreshing.add(key)
            task = asyncio.get_running_loop().create_task(self._refresh(key, compute))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return aged[1]

    async def get_async(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """As :meth:`get`, for the event loop: a fresh answer is given in place, one up to
        twice ``ttl_s`` old is given while a refresh runs, and a miss is computed on a
        worker thread (computing reads the store, which blocks)."""
        value = self.held(key, compute)
        if value is not MISSING:
            return value
        return await run_sync(self.get, key, compute)

    async def _refresh(self, key: Hashable, compute: Callable[[], Any]) -> None:
        try:
            # One refresh at a time: keys loaded together expire together, and dozens of
            # store reads at once on worker threads (a store read holds the GIL for a few
            # ms) stalled the event loop for all of them; in turn, it runs between them.
            async with refresh_slot():
                value = await run_sync(compute)
            self._store(key, value)
        except Exception:
            # The stale answer ages out and the next reader computes (and sees) the error.
            log.exception("view_refresh_failed", key=str(key))
        finally:
            self._refreshing.discard(key)

    def _store(self, key: Hashable, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._evict(now)
            self._entries[key] = (now, value)

    def _evict(self, now: float) -> None:
        expired = [k for k, (at, _) in self._entries.items() if now - at >= 2 * self.ttl_s]
        for key in expired or list(self._entries)[: self.max_entries // 10]:
            del self._entries[key]
