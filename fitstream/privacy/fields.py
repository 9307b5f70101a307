"""Personal fields encrypted with the user's data key (crypto-shredding).

Sealed today: the email and phone of notification preferences
(:data:`PREFERENCE_FIELDS`), sealed by the API before they are produced to the compacted
preferences topic and opened by its readers (the ClickHouse sink, the delivery worker)
through the user's data key (:mod:`fitstream.privacy.keys`). Deleting the key erases
every copy at once, the Kafka log and replays included: an opened field whose key is
gone reads as :data:`ERASED`.

Not sealed yet: coordinates (samples, routes, start locations) are plaintext in the
events log and the view topics. An erase removes them from every view and replay (the
erasure rule, :mod:`fitstream.privacy.erasures`), but not from the log's bytes.

A value that does not open (sealed with a key the user no longer has: written before
an erase, read after they came back with a new key) reads as erased too, and is logged;
a key store that cannot be reached is retried (:meth:`FieldCipher.open_fields_patiently`),
never taken for an erasure.

Sealed text: ``"fse1." + base64url(nonce ‖ AES-256-GCM ciphertext+tag)``, where the
plaintext is the value's JSON and the associated data is ``"<user_id>|<field>"``: a
sealed value moved to another user or another field fails to open instead of being
read as theirs. Nonces are 96 random bits per value (NIST SP 800-38D allows 2^32
encryptions per key with random nonces; a user's lifetime of fields is far below).

:func:`seal` and :func:`open_sealed` are pure (key in, value out); :class:`FieldCipher`
adds the key store.
"""

from __future__ import annotations

import base64
import os
import threading
from typing import Any, Final

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


def seal(key: bytes, user_id: str, field: str, value: Any,
         nonce: bytes | None = None) -> str:
    """``value`` (anything orjson encodes) sealed for ``user_id``'s ``field``.
    ``nonce`` is for tests only; by default each call draws a fresh one."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce is {NONCE_BYTES} bytes")
    sealed = AESGCM(key).encrypt(nonce, orjson.dumps(value), _aad(user_id, field))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_sealed(key: bytes, user_id: str, field: str, sealed: str) -> Any:
    """The value :func:`seal` sealed; FieldTampered if it does not open."""
    if not is_sealed(sealed):
        raise FieldTampered(f"{field} of {user_id} is not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX):].encode())
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                    _aad(user_id, field))
    except (InvalidTag, ValueError) as exc:
        raise FieldTampered(f"{field} of {user_id} does not open with their key") from exc
    return orjson.loads(plain)


class FieldCipher:
    """Seals and opens personal fields through a key store (cache it: every field of
    every record asks for a key)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def seal(self, user_id: str, field: str, value: Any) -> str:
        return seal(self.keys.get_or_create(user_id), user_id, field, value)

    def open(self, user_id: str, field: str, sealed: str) -> Any:
        """The value, or :data:`ERASED` if the user's key was deleted. FieldTampered if it
        does not open (a damaged key or an invalid id too); KeyStoreUnavailable if the
        store did not answer."""
        try:
            key = self.keys.get(user_id)
        except ValueError as exc:  # an id that is not an id, a damaged key file
            raise FieldTampered(f"{field} of {user_id}: {exc}") from exc
        except Exception as exc:  # the backend's own errors (psycopg, OSError)
            raise KeyStoreUnavailable(f"the key of {user_id}: {exc!r}") from exc
        return ERASED if key is None else open_sealed(key, user_id, field, sealed)

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
                              backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                              ) -> dict[str, Any] | None:
        """:meth:`open_fields`, retried with backoff (doubling to ``max_backoff_s``) while
        the key store is unavailable; None if ``stop`` is set first."""
        while True:
            try:
                return self.open_fields(user_id, record, fields)
            except KeyStoreUnavailable as exc:
                log.warning("key_store_unavailable", user_id=user_id, detail=str(exc),
                            retry_in_s=backoff_s)
                if stop.wait(backoff_s):
                    return None
                backoff_s = min(backoff_s * 2, max_backoff_s)
