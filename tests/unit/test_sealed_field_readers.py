"""Readers of sealed fields and of erased users' records survive what they meet in a log
(issue 9 findings 11 and 15, review): a value sealed with a key the user no longer has,
a key store that drops its connection, and a topic keyed by something other than the
user. Real key stores (a directory, PostgreSQL at 127.0.0.1:5432, database ``test``),
the real ClickHouse sink and preference book; only Kafka messages are stand-ins."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from delivery.worker import PreferenceBook
from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.privacy.erasures import ERASURE_SUBJECT, ErasureLedger
from fitstream.privacy.fields import (
    PREFERENCE_FIELDS,
    FieldCipher,
    KeyStoreUnavailable,
)
from fitstream.privacy.keys.local_file import LocalFileKeyStore
from fitstream.privacy.keys.postgres import PostgresKeyStore
from fitstream.settings import (
    FitStreamSettings,
    LocalFileKeyStoreConfig,
    PostgresKeyStoreConfig,
    PrivacySettings,
    SchemaRegistrySettings,
)
from sinks.clickhouse.topic_sink import ClickHouseTopicSink
from stores.clickhouse.tables import view_tables

SERDE = AvroSerde(RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path))
PREFERENCES_SUBJECT = "fitstream.notifications.NotificationPreferences"
CLAIM_SUBJECT = "fitstream.views.WorkoutClaim"


class Message:
    """A consumed Kafka message as the readers see it (confluent-kafka's Message cannot
    be built outside a consumer)."""

    def __init__(self, topic: str, key: bytes, value: bytes, timestamp_ms: int,
                 partition: int = 0, offset: int = 0) -> None:
        self._topic, self._key, self._value = topic, key, value
        self._timestamp_ms, self._partition, self._offset = timestamp_ms, partition, offset

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, self._timestamp_ms  # TIMESTAMP_CREATE_TIME

    def error(self) -> None:
        return None


def preferences(user_id: str, email: str, updated_at: int) -> dict:
    return {"user_id": user_id, "channels": ["email"], "email": email, "phone": None,
            "updated_at": updated_at}


def sealed_before_and_after_an_erase(cipher: FieldCipher) -> tuple[dict, dict]:
    """A returning user's preferences: one sealed before their erase, one after, with the
    new key they got when they came back."""
    before = cipher.seal_fields("user-a", preferences("user-a", "old@example.org", 1),
                                PREFERENCE_FIELDS)
    cipher.keys.delete("user-a")  # the erase
    after = cipher.seal_fields("user-a", preferences("user-a", "new@example.org", 2),
                               PREFERENCE_FIELDS)
    return before, after


def test_a_value_sealed_with_an_erased_key_reads_as_erased(tmp_path):
    """Before: FieldTampered escaped open_fields: it ended the delivery worker's
    preferences thread, and the ClickHouse sink re-read the batch forever."""
    cipher = FieldCipher(LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path))
    before, after = sealed_before_and_after_an_erase(cipher)
    assert cipher.open_fields("user-a", before, PREFERENCE_FIELDS) == {
        **preferences("user-a", "old@example.org", 1), "email": None}
    assert cipher.open_fields("user-a", after, PREFERENCE_FIELDS)["email"] == "new@example.org"


def test_the_preference_book_takes_a_returning_users_old_record_as_unreachable(tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path)
    book = PreferenceBook(settings, SERDE, threading.Event())
    before, after = sealed_before_and_after_an_erase(book._cipher)
    assert book.apply(before) is True
    assert book.get("user-a").email is None  # the old address is erased, not an error
    assert book.apply(after) is True
    assert book.get("user-a").email == "new@example.org"


def test_a_broken_file_store_is_unavailable_not_an_erasure(tmp_path):
    store = LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path)
    cipher = FieldCipher(store)
    sealed = cipher.seal_fields("user-a", preferences("user-a", "a@example.org", 1),
                                PREFERENCE_FIELDS)
    store.root.rename(tmp_path / "moved")
    store.root.write_text("not a directory")  # reads fail with NotADirectoryError
    with pytest.raises(KeyStoreUnavailable):
        cipher.open_fields("user-a", sealed, PREFERENCE_FIELDS)
    stopping = threading.Event()
    stopping.set()
    assert cipher.open_fields_patiently("user-a", sealed, PREFERENCE_FIELDS, stopping) is None
    store.root.unlink()
    (tmp_path / "moved").rename(store.root)
    assert cipher.open_fields_patiently("user-a", sealed, PREFERENCE_FIELDS,
                                        stopping)["email"] == "a@example.org"


@pytest.fixture
def postgres_privacy():
    config = PostgresKeyStoreConfig(host="127.0.0.1", port=5432, database="test",
                                    user="postgres", table=f"keys_{uuid.uuid4().hex[:12]}")
    admin = PostgresKeyStore(config)
    try:
        admin.get("probe")
    except Exception as exc:  # which error depends on what is missing
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {exc}")
    yield PrivacySettings(key_store="postgres", postgres=config), admin
    admin._connection().execute(f"DROP TABLE IF EXISTS {config.table}")
    admin.close()


def terminate(admin: PostgresKeyStore, backend_pid: int) -> None:
    """Drop one connection server-side (as a PostgreSQL restart or failover does) and
    wait until the server no longer lists it."""
    conn = admin._connection()
    conn.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
    deadline = time.monotonic() + 30
    while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                       (backend_pid,)).fetchone():
        assert time.monotonic() < deadline, f"backend {backend_pid} still listed after 30 s"
        time.sleep(0.05)


def test_a_dropped_key_store_connection_is_retried_not_fatal(tmp_path, postgres_privacy):
    """Before: the backend's OperationalError escaped open_fields and ended the
    preferences thread (every later preference of every user was never read)."""
    privacy, admin = postgres_privacy
    settings = FitStreamSettings(state_dir=tmp_path, privacy=privacy)
    book = PreferenceBook(settings, SERDE, threading.Event())
    sealer = FieldCipher(admin)
    sealed = {user_id: sealer.seal_fields(
        user_id, preferences(user_id, f"{user_id}@example.org", 1), PREFERENCE_FIELDS)
        for user_id in ("user-a", "user-b")}
    assert book.apply(sealed["user-a"]) is True
    terminate(admin, book._cipher.keys.backend._conn.info.backend_pid)
    assert book.apply(sealed["user-b"]) is True  # its key is not cached: asks PostgreSQL
    assert book.get("user-a").email == "user-a@example.org"
    assert book.get("user-b").email == "user-b@example.org"  # read after a reconnect


def claims_sink(tmp_path: Path) -> tuple[ClickHouseTopicSink, ErasureLedger]:
    settings = FitStreamSettings(state_dir=tmp_path)
    claims = next(v for v in view_tables(settings) if v.name == "claims")
    ledger = ErasureLedger(settings, SERDE)
    ledger._positions = {0: 0}
    ledger._apply(Message(settings.kafka.erasures_topic, b"user-a", SERDE.encode(
        ERASURE_SUBJECT, {"user_id": "user-a", "erased_at": 1_000}), 1_000))
    return ClickHouseTopicSink(settings, None, SERDE, claims, ledger), ledger


def test_a_claim_of_an_erased_user_is_not_written_back_on_a_rebuild(tmp_path):
    """Before: the sink judged the message key, and claims are keyed by workout id: an
    erased user's claims went back into workout_claims on every rebuild."""
    sink, ledger = claims_sink(tmp_path)
    topic = sink._view.topic

    def claim(user_id: str, workout_id: str, logged_at: int) -> Message:
        return Message(topic, workout_id.encode(), SERDE.encode(CLAIM_SUBJECT, {
            "workout_id": workout_id, "user_id": user_id, "claimed_at": logged_at}),
            logged_at)

    assert sink._record(claim("user-a", "w-1", 900)) is None  # before the erasure
    assert sink._record(claim("user-a", "w-2", 1_001)) == {  # a new start after it
        "workout_id": "w-2", "user_id": "user-a", "claimed_at": 1_001}
    assert sink._record(claim("user-b", "w-3", 900))["user_id"] == "user-b"
    ledger.close()


def test_the_preferences_sink_writes_an_unopenable_address_as_absent(tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path)
    view = next(v for v in view_tables(settings) if v.name == "notification-preferences")
    sink = ClickHouseTopicSink(settings, None, SERDE, view, None)
    before, after = sealed_before_and_after_an_erase(sink._cipher)
    rows = [sink._record(Message(view.topic, b"user-a", SERDE.encode(PREFERENCES_SUBJECT, r),
                                 r["updated_at"])) for r in (before, after)]
    assert [r["email"] for r in rows] == [None, "new@example.org"]


def test_the_postgres_store_reconnects_after_a_dropped_connection(postgres_privacy):
    """The retry above relies on it: psycopg marks a terminated connection closed."""
    _, admin = postgres_privacy
    other = PostgresKeyStore(admin.config)
    other.get("user-x")
    terminate(admin, other._conn.info.backend_pid)
    with pytest.raises(psycopg.OperationalError):
        other.get("user-x")
    assert other._conn.closed
    assert other.get("user-x") is None  # reconnected
    other.close()
