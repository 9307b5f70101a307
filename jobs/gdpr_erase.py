"""``fitstream jobs gdpr-erase --user U``: erase one user everywhere, while the system runs,
and count what was deleted per store and table.

In this order:

1. The erasure event: ``UserErased{user_id, erased_at}`` on the compacted erasure topic
   (``fitstream.privacy.erasures``). From then on the processor drops the user's state
   (sessions, leaderboard totals, achievements, feature history) and dead-letters
   their records logged at or before ``erased_at`` (reason ``user_erased``), the
   sinks skip them, and a replay from offset 0 does not rebuild the user.
2. Wait (bounded) until the processor has applied it (its ``user-erasures`` changelog
   holds ``erased_at`` for the user) and the view sinks have committed every view
   record written before that, so nothing of the user is still on its way to a store.
3. Delete from the stores, through each store's interface (``stores.erasure``):

   - Delta (every lakehouse table): ``DELETE`` by ``user_id`` (the dead-letter table by
     its Kafka key, which is the user id), then ``VACUUM`` with no retention, so the
     deleted rows' old files are gone from storage, not only from the current version.
   - ClickHouse (every view table, the notification inbox and its reads, deliveries and
     preferences included): ``ALTER TABLE … DELETE``, a mutation, waited for until the
     user's rows read 0. With embedded chdb, through the API process that owns it
     (``POST /api/v1/admin/users/{id}/clickhouse-erasure``, api/erasure.py, which runs
     the same ``stores.erasure.erase_from_clickhouse``).
   - The Feast online store (SQLite or Redis): the user's entity row of every feature
     view (the offline features are the Delta table ``features.user_features``, above).

The user id is checked against the one id pattern before anything runs, and Delta
predicates quote through ``fitstream.privacy.predicates``.

Not rewritten: the Kafka log, the system of record (rewriting topics moves the offsets
every sink's exactly-once bookkeeping depends on). The erasure event makes every reader
skip the user's records; the personal fields in those records are for crypto-shredding
(per-user keys, ``fitstream.privacy.keys``) to make unreadable.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from fitstream.api_client import post_to_store_owner
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.identifiers import check_id
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.positions import LogPosition
from fitstream.kafka.topics import USER_ERASURES_TABLE, changelog_topic
from fitstream.privacy.erasures import publish_erasure
from fitstream.privacy.keys import forget_user, key_store_backend
from fitstream.settings import FitStreamSettings
from fitstream.tokens import TokenKeys, issue_admin_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import sink_groups
from stores.erasure import (
    MUTATION_TIMEOUT_S,
    erase_from_clickhouse,
    erase_from_delta,
    erase_from_feast,
)


def wait_for_processor(settings: FitStreamSettings, user_id: str, erased_at: int,
                       timeout_s: float) -> bool:
    """True once the processor says it applied this erasure (it dropped the user's
    state); False if that did not happen within ``timeout_s`` (no processor running: it
    applies the erasure when it starts).

    Faust: its ``user-erasures`` changelog holds the applied ``erased_at``. Flink: the
    job reads the erasure topic as an input, and its source commits offsets when a
    checkpoint completes, so the group past the erasure means the drop is in a
    checkpoint (``processor.engine`` says which to ask)."""
    if settings.processor.engine == "flink":
        return wait_for_flink_checkpoint(settings, timeout_s)
    topic = changelog_topic(settings, USER_ERASURES_TABLE)
    consumer = Consumer(consumer_config(settings.kafka, "fitstream-gdpr-erase"))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return False
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                         for p in metadata.partitions])
        wanted, applied = user_id.encode(), str(erased_at).encode()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if (message.error() is None and message.key() == wanted
                        and message.value() is not None
                        and int(message.value()) >= int(applied)):
                    return True
        return False
    finally:
        consumer.close()


def wait_for_groups(settings: FitStreamSettings, readers: list[tuple[str, str]],
                    timeout_s: float) -> bool:
    """True once every (topic, group) in ``readers`` has committed all its topic held
    when this was called; False after ``timeout_s``."""
    position = LogPosition(settings.kafka)
    try:
        goals = {(topic, group): position.ends(topic) for topic, group in readers}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(position.committed(topic, group).get(p, 0) >= end
                   for (topic, group), ends in goals.items() for p, end in ends.items()):
                return True
            time.sleep(0.5)
        return False
    finally:
        position.close()


def wait_for_flink_checkpoint(settings: FitStreamSettings, timeout_s: float) -> bool:
    """True once the Flink job's group has committed the erasure topic's end as it is
    now (the erasure just published included)."""
    return wait_for_groups(
        settings, [(settings.kafka.erasures_topic, settings.processor.consumer_group)],
        timeout_s)


def wait_for_view_sinks(settings: FitStreamSettings, timeout_s: float) -> bool:
    """True once every ClickHouse view sink has committed all its topic held when this
    was called: records the processor wrote before it applied the erasure are then in
    the store, where the delete finds them, and not still on their way."""
    return wait_for_groups(settings, sink_groups(settings), timeout_s)


def erase_from_clickhouse_live(settings: FitStreamSettings, user_id: str) -> dict[str, int]:
    """The ClickHouse delete while the system runs: directly on a server, through the
    API process that owns embedded chdb otherwise (api/erasure.py)."""
    if settings.clickhouse.backend == "server":
        store = open_store(settings)
        try:
            return erase_from_clickhouse(store, user_id)
        finally:
            store.close()
    token = issue_admin_token(TokenKeys.from_settings(settings.api), "fitstream-gdpr-erase",
                              300)
    status, body = post_to_store_owner(
        settings, f"/api/v1/admin/users/{user_id}/clickhouse-erasure", token,
        MUTATION_TIMEOUT_S + 30, "and run the erase again: it is idempotent")
    if status != 200:
        raise RuntimeError(f"the API refused the ClickHouse erase: {body.get('error')}: "
                           f"{body.get('message')}")
    return body["rows_deleted"]


def erase_data_key(settings: FitStreamSettings, user_id: str) -> bool:
    """Delete the user's data key from the key store; True if they had one."""
    check_id("user_id", user_id)
    deleted = key_store_backend(settings).delete(user_id)
    forget_user(user_id)  # the erase may run in a process that caches keys (the API's)
    return deleted


def erase_user(settings: FitStreamSettings, user_id: str,
               processor_timeout_s: float = 60.0) -> dict[str, Any]:
    """The whole erase (see the module docstring); safe to run again."""
    check_id("user_id", user_id)  # before anything is published or touched
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    erased_at = publish_erasure(settings, serde, user_id)
    # Crypto-shredding: without the key, every sealed copy of the user's personal fields
    # (the log, replays, backups) reads as erased.
    key_deleted = erase_data_key(settings, user_id)
    applied = wait_for_processor(settings, user_id, erased_at, processor_timeout_s)
    settled = applied and wait_for_view_sinks(settings, processor_timeout_s)
    return {"erasure": {"erased_at": erased_at, "data key deleted": key_deleted,
                        "processor state dropped": applied, "view sinks settled": settled},
            "delta": erase_from_delta(settings, user_id),
            "clickhouse": erase_from_clickhouse_live(settings, user_id),
            "feast online": erase_from_feast(settings, user_id),
            "kafka log": "kept, with the erasure event: every reader skips the user's "
                         "records up to erased_at"}
