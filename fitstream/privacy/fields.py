"""Personal fields encrypted with the user's data key (crypto-shredding).

Sealed today: the email and phone of notification preferences
(:data:`PREFERENCE_FIELDS`), sealed by the API before they are produced to the compacted
preferences topic and opened by its readers (the ClickHouse sink, the delivery worker)
through the user's data key (:mod:`fitstream.privacy.keys`). Deleting the key erases
every copy at once, the Kafka log and replays included: an opened field whose key is
gone reads as :data:`ERASED`.

Coordinates are sealed too, one seal per record (:mod:`fitstream.privacy.coordinates`).

A value that does not open (sealed with a key the user no longer has: written before
an erase, read after they came back with a new key) reads as erased too, and is logged;
a key store that cannot be reached is retried (:meth:`FieldCipher.open_fields_patiently`),
never taken for an erasure.

Sealed text: ``"fse1." + base64url(nonce ‖ AES-256-GCM ciphertext+tag)``, where the
plaintext is the value's JSON and the associated data is ``"<user_id>|<field>"``: a
sealed value moved to another user or another field fails to open instead of being
read as theirs. Nonces are 96 random bits per value (NIST SP 800-38D allows 2^32
encryptions per key with random nonces; a user's lifetime of fields is far below), or,
where a replay must write the same bytes (coordinates), derived from the key and the
value with HMAC-SHA256 (a synthetic IV: one nonce per distinct value, never reused
for another).

:func:`seal` and :func:`open_sealed` are pure (key in, value out); :class:`FieldCipher`
adds the key store.
"""

from __future__ import annotations

import base64
import hmac
import os
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import orjson
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fitstream.privacy.keys import KeyStore

log = structlog.get_logger("privacy.fields")

PREFIX: Final = "fse1."
NONCE_BYTES: Final = 12
# The personal fields sealed before they are produced, per contract subject.
PREFERENCE_FIELDS: Final = ("email", "phone")


class _Erased:
    """The value of a field whose data key was deleted."""

    _instance: _Erased | None = None

    def __new__(cls) -> _Erased:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ERASED"

    def __bool__(self) -> bool:
        return False


ERASED: Final = _Erased()


class FieldTampered(ValueError):
    """A sealed value that does not open with its user's key for its field: changed,
    truncated, taken from another user or field, or sealed with a key since erased."""


class KeyStoreUnavailable(RuntimeError):
    """The key store failed to answer (PostgreSQL down, a file system error): retry; it
    says nothing about the user's key."""


def _aad(user_id: str, field: str) -> bytes:
    return f"{user_id}|{field}".encode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal_bytes(key: bytes, user_id: str, field: str, plain: bytes,
               nonce: bytes | None = None, deterministic: bool = False) -> bytes:
    """``plain`` sealed for ``user_id``'s ``field``: nonce ‖ AES-256-GCM ciphertext+tag.

    By default each call draws a fresh nonce. ``deterministic``: the nonce is derived
    from the key, the field and the value (a synthetic IV), so the same value seals to
    the same bytes every time, and a replay writes the same bytes as the live run; it
    reveals only that two sealed values are equal. ``nonce`` is for tests only."""
    aad = _aad(user_id, field)
    if deterministic:
        # hmac.digest: the one-shot C path (hmac.new costs ~10 µs a call here).
        nonce_key = hmac.digest(key, b"fse1 synthetic nonce", "sha256")
        nonce = hmac.digest(nonce_key, aad + b"\0" + plain, "sha256")[:NONCE_BYTES]
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce is {NONCE_BYTES} bytes")
    return nonce + AESGCM(key).encrypt(nonce, plain, aad)


def open_bytes(key: bytes, user_id: str, field: str, sealed: bytes) -> bytes:
    """The plaintext :func:`seal_bytes` sealed; FieldTampered if it does not open."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                   _aad(user_id, field))
    except (InvalidTag, ValueError) as exc:
        raise FieldTampered(f"{field} of {user_id} does not open with their key") from exc


def seal(key: bytes, user_id: str, field: str, value: Any,
         nonce: bytes | None = None, deterministic: bool = False) -> str:
    """``value`` (anything orjson encodes) sealed as text (:func:`seal_bytes`)."""
    sealed = seal_bytes(key, user_id, field, orjson.dumps(value), nonce, deterministic)
    return PREFIX + base64.urlsafe_b64encode(sealed).decode()


def open_sealed(key: bytes, user_id: str, field: str, sealed: str) -> Any:
    """The value :func:`seal` sealed; FieldTampered if it does not open."""
    if not is_sealed(sealed):
        raise FieldTampered(f"{field} of {user_id} is not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX):].encode())
    except ValueError as exc:
        raise FieldTampered(f"{field} of {user_id} does not open with their key") from exc
    return orjson.loads(open_bytes(key, user_id, field, raw))


class FieldCipher:
    """Seals and opens personal fields through a key store (cache it: every field of
    every record asks for a key)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def _sealing_key(self, user_id: str) -> bytes:
        """The user's key, created on first use; ValueError for an invalid id,
        KeyStoreUnavailable if the store did not answer."""
        try:
            return self.keys.get_or_create(user_id)
        except ValueError:
            raise
        except Exception as exc:  # the backend's own errors (psycopg, OSError)
            raise KeyStoreUnavailable(f"the key of {user_id}: {exc!r}") from exc

    def _opening_key(self, user_id: str, field: str) -> bytes | None:
        """The user's key, or None if they have none (erased)."""
        try:
            return self.keys.get(user_id)
        except ValueError as exc:  # an id that is not an id, a damaged key file
            raise FieldTampered(f"{field} of {user_id}: {exc}") from exc
        except Exception as exc:  # the backend's own errors (psycopg, OSError)
            raise KeyStoreUnavailable(f"the key of {user_id}: {exc!r}") from exc

    def seal(self, user_id: str, field: str, value: Any) -> str:
        """``value`` sealed as text with the user's key (created on first use)."""
        return seal(self._sealing_key(user_id), user_id, field, value)

    def seal_bytes(self, user_id: str, field: str, plain: bytes,
                   deterministic: bool = False) -> bytes:
        """``plain`` sealed with the user's key (:func:`seal_bytes`)."""
        return seal_bytes(self._sealing_key(user_id), user_id, field, plain,
                          deterministic=deterministic)

    def open(self, user_id: str, field: str, sealed: str) -> Any:
        """The value, or :data:`ERASED` if the user's key was deleted. FieldTampered if it
        does not open (a damaged key or an invalid id too); KeyStoreUnavailable if the
        store did not answer."""
        key = self._opening_key(user_id, field)
        return ERASED if key is None else open_sealed(key, user_id, field, sealed)

    def open_bytes(self, user_id: str, field: str, sealed: bytes) -> bytes | _Erased:
        """:meth:`open` for :meth:`seal_bytes`."""
        key = self._opening_key(user_id, field)
        return ERASED if key is None else open_bytes(key, user_id, field, sealed)

    def seal_fields(self, user_id: str, record: dict[str, Any],
                    fields: tuple[str, ...]) -> dict[str, Any]:
        """``record`` with each present, non-null field of ``fields`` sealed."""
        return {name: self.seal(user_id, name, value)
                if name in fields and value is not None else value
                for name, value in record.items()}

    def open_fields(self, user_id: str, record: dict[str, Any],
                    fields: tuple[str, ...]) -> dict[str, Any]:
        """``record`` with each sealed field of ``fields`` opened; an erased user's
        fields become None (the contracts' "absent"), and so does a field that does not
        open (logged): one unreadable value must not stop a reader. KeyStoreUnavailable
        propagates: the caller retries (:meth:`open_fields_patiently`)."""
        opened = dict(record)
        for name in fields:
            if is_sealed(record.get(name)):
                try:
                    value = self.open(user_id, name, record[name])
                except FieldTampered as exc:
                    log.warning("sealed_field_unreadable", user_id=user_id, field=name,
                                detail=str(exc))
                    value = ERASED
                opened[name] = None if value is ERASED else value
        return opened

    def open_fields_patiently(self, user_id: str, record: dict[str, Any],
                              fields: tuple[str, ...], stop: threading.Event,
                              ) -> dict[str, Any] | None:
        """:meth:`open_fields`, retried while the key store is unavailable
        (:func:`patiently`); None if ``stop`` is set first."""
        return patiently(lambda: self.open_fields(user_id, record, fields), stop)


T = TypeVar("T")


def patiently(call: Callable[[], T], stop: threading.Event, backoff_s: float = 0.5,
              max_backoff_s: float = 30.0) -> T | None:
    """``call()``, retried with backoff (doubling to ``max_backoff_s``) while the key
    store is unavailable; None if ``stop`` is set first. An unavailable store says
    nothing about a key: giving up would read a live user as erased."""
    while True:
        try:
            return call()
        except KeyStoreUnavailable as exc:
            log.warning("key_store_unavailable", detail=str(exc), retry_in_s=backoff_s)
            if stop.wait(backoff_s):
                return None
            backoff_s = min(backoff_s * 2, max_backoff_s)
