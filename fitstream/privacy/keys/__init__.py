"""Per-user data keys for crypto-shredding, kept outside Kafka: one small interface, one
module per backend (as Feast's ``infra/online_stores``).

- ``file`` (:mod:`.local_file`): one key file per user under the state directory, for
  the embedded default.
- ``postgres`` (:mod:`.postgres`): a table in PostgreSQL, for production.

A data key is 32 random bytes (AES-256-GCM, :mod:`fitstream.privacy.fields`), created
on first use and never changed. Erasing a user deletes their key: every copy of their
encrypted fields, in the Kafka log, in replays and in backups, becomes unreadable.
Processes cache keys they found (:class:`CachedKeyStore`) for
``privacy.key_cache_ttl_s``, never "no key": a user whose key another process just
created is seen at once. A cached key outlives its deletion by at most that TTL in
another process, and less where the process reads the erasure topic: each
:class:`~fitstream.privacy.erasures.ErasureLedger` that reads an erasure calls
:func:`forget_user`, which evicts the user from every key cache of its process (the
processor, the sinks, the delivery worker). A process that follows no erasures (the
API) may seal with an erased key for up to the TTL; such a value reads as erased.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fitstream.settings import FitStreamSettings

DATA_KEY_BYTES = 32


class KeyStore(Protocol):
    def get(self, user_id: str) -> bytes | None:
        """The user's data key, or None if they have none (never had one, or erased)."""

    def get_or_create(self, user_id: str) -> bytes:
        """The user's data key, created now if they have none. Concurrent callers in any
        process get the same key."""

    def delete(self, user_id: str) -> bool:
        """Delete the user's key; True if there was one."""


# Every key cache of this process, for forget_user (weak: a dropped cache is gone).
_CACHES: weakref.WeakSet[CachedKeyStore] = weakref.WeakSet()
_CACHES_LOCK = threading.Lock()


def forget_user(user_id: str) -> None:
    """Evict ``user_id`` from every key cache of this process: their key was deleted (an
    erasure was read), and a cached copy must not open or seal anything more."""
    with _CACHES_LOCK:
        caches = list(_CACHES)
    for cache in caches:
        cache.forget(user_id)


class CachedKeyStore:
    """A key store with an in-process cache of the keys it found, each for ``ttl_s``.

    "No key" is not cached: it asks the backend again, so a key created meanwhile (the
    user came back, or another process sealed first) is used at once. An erasure read by
    this process evicts the user (:func:`forget_user`)."""

    def __init__(self, backend: KeyStore, ttl_s: float) -> None:
        self.backend = backend
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, bytes]] = {}
        with _CACHES_LOCK:
            _CACHES.add(self)

    def _cached(self, user_id: str) -> bytes | None:
        with self._lock:
            hit = self._cache.get(user_id)
        if hit is not None and time.monotonic() - hit[0] < self._ttl_s:
            return hit[1]
        return None

    def _remember(self, user_id: str, key: bytes | None) -> bytes | None:
        if key is not None:
            with self._lock:
                self._cache[user_id] = (time.monotonic(), key)
        return key

    def get(self, user_id: str) -> bytes | None:
        key = self._cached(user_id)
        return key if key is not None else self._remember(user_id, self.backend.get(user_id))

    def get_or_create(self, user_id: str) -> bytes:
        key = self._cached(user_id)
        if key is not None:
            return key
        key = self.backend.get_or_create(user_id)
        self._remember(user_id, key)
        return key

    def delete(self, user_id: str) -> bool:
        self.forget(user_id)
        return self.backend.delete(user_id)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._cache.pop(user_id, None)


def key_store_backend(settings: FitStreamSettings) -> KeyStore:
    """The configured backend, uncached."""
    privacy = settings.privacy
    if privacy.key_store == "postgres":
        from fitstream.privacy.keys.postgres import PostgresKeyStore

        return PostgresKeyStore(privacy.postgres)
    from fitstream.privacy.keys.local_file import LocalFileKeyStore

    return LocalFileKeyStore(privacy.file, settings.state_dir)


def key_store(settings: FitStreamSettings) -> CachedKeyStore:
    """The configured backend behind a process cache."""
    return CachedKeyStore(key_store_backend(settings), settings.privacy.key_cache_ttl_s)
