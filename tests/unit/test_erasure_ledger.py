"""The erasure ledger (fitstream/privacy/erasures.py) without a broker: what it does when
the broker cannot be reached, and what reading an erasure does to the process's key
caches (issue 9 findings 11 and 15, review)."""

from __future__ import annotations

import re
import socket
import time

import pytest

from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.privacy.erasures import ERASURE_SUBJECT, ErasureLedger
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings, KafkaSettings, SchemaRegistrySettings

SERDE = AvroSerde(RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path))


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ErasureRecord:
    """What the ledger reads of a Kafka message (confluent-kafka's Message cannot be
    built outside a consumer): a UserErased record at offset 0 of partition 0."""

    def __init__(self, user_id: str, erased_at: int) -> None:
        self._value = SERDE.encode(ERASURE_SUBJECT,
                                   {"user_id": user_id, "erased_at": erased_at})

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 0

    def value(self) -> bytes:
        return self._value


def test_an_unreachable_broker_is_waited_out_with_backoff_not_raised_at_once(tmp_path):
    """Before: the first failed metadata request (list_topics) raised KafkaException into
    the processor, the sinks and the delivery worker, which died of it. Now each attempt
    is logged and retried; only a caller that bounds the outage gets TimeoutError."""
    settings = FitStreamSettings(state_dir=tmp_path, kafka=KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{unused_port()}"))
    ledger = ErasureLedger(settings, SERDE)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"outage window 4 s, (\d+) attempts") as raised:
        ledger.catch_up([0], outage_s=4)
    attempts = int(re.search(r"(\d+) attempts", str(raised.value)).group(1))
    assert attempts >= 2, raised.value  # retried, not given up on the first failure
    assert time.monotonic() - started >= 4
    ledger.close()


def test_reading_an_erasure_evicts_the_user_from_every_key_cache(tmp_path):
    """Before: a key cached by a sink or the delivery worker kept opening an erased
    user's fields for up to privacy.key_cache_ttl_s (60 s) after the erase deleted it."""
    settings = FitStreamSettings(state_dir=tmp_path)
    keys = key_store(settings)  # the cache a sink or the delivery worker holds
    key = keys.get_or_create("user-a")
    keys.get_or_create("user-b")
    keys.backend.delete("user-a")  # the erase job, in another process
    assert keys.get("user-a") == key  # cached
    ledger = ErasureLedger(settings, SERDE)
    ledger._positions = {0: 0}
    ledger._apply(ErasureRecord("user-a", erased_at=1_000))
    assert ledger.erased_at("user-a") == 1_000
    assert keys.get("user-a") is None
    assert keys.get("user-b") is not None  # only the erased user is forgotten
