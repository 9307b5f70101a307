"""The differential test: one crafted log, processed by the real Faust processor on the
real broker

- as it is (8 partitions, the default batch size),
- re-partitioned into 3 partitions,
- with batch size 1,
- with the largest batch size (the whole log),

by the Flink job (streams/flink, in the Flink venv, exactly-once output) from offset 0
into fresh topics, and by the Spark backfill over the same log in bronze, gives the
same outputs on every topic: summaries, leaderboard entries, progress, unlocks, records, features,
notifications, board completions, claims and dead letters, reduced to what their
idempotent consumers keep (tests/engines/canonical.py says why and how).

Left out, with the reason: the notifications for entering a weekly top 10. Who enters
a board's top places is decided in the order completions of different users reach the
board, which the partition layout changes when more users than the top places compete;
deciding in each board's event-time order would mean waiting out the allowed lateness
(48 h) before telling anyone. The board completions that feed that decision are
compared.

The Flink job runs in thread mode (the default); it is also run in process mode, killed
(SIGKILL on its process group: client, JVM and Python workers) mid-stream and restarted:
it resumes from its last checkpoint, and what ``read_committed`` consumers see is then
exactly the clean run's, record for record (the transaction open at the kill is
aborted, never delivered twice).

The log holds what breaks a clock per partition: a user who syncs two days of their own
workouts at once onto a busy partition (every event of theirs was `late` against the
partition's watermark), devices that sync days late, a device clock in 2100, duplicates,
reordering across batches, and workouts whose start never arrives; and what breaks a
backfill that forgets to open sealed coordinates: a start location out of range, and
sealed coordinates that open with no key.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from cli.dev.local_stack import LocalStack
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.events import event_subject
from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition
from fitstream.kafka.topics import OUTPUTS
from fitstream.privacy.coordinates import seal_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import REPO_ROOT, FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from tests.conftest import isolated
from tests.engines.canonical import canonical
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import read_topic, read_topics
from tests.unit.test_workout_session import WorkoutScript

pytestmark = pytest.mark.e2e

HOUR = 3_600_000
DAY = 24 * HOUR
YEAR_2100 = 4_102_444_800_000
NOW = int(time.time() * 1000)
BUSY = 0  # the partition the busy users and the syncing user share in the 8-way run


def crafted_log() -> list[dict[str, Any]]:
    """Every event, in log order."""
    spec = FleetSpec(users=8, days=3, seed=2026, start_ms=NOW - 4 * DAY,
                     chaos=ChaosKnobs(duplicate=0.03, out_of_order=0.05, late=0.05,
                                      malformed=0))
    log = [r.event for r in simulate_fleet(spec) if r.event is not None]
    # Two days of one user's workouts synced at once, after everyone else's.
    for day in range(2):
        at = NOW - (50 - 24 * day) * HOUR
        log += (WorkoutScript(f"w-sync-{day}", "u-syncer").started(at)
                .updated(at + 600_000, 2000.0, [140, 150])
                .completed(at + 1_200_000, 4000.0)).events
    # A device that syncs days late: its user's phone already logged a workout today, so
    # a workout from three days ago is further behind their own clock than 48 h.
    log += WorkoutScript("w-today", "u-late").started(NOW - 2 * HOUR).completed(
        NOW - HOUR, 5000.0).events
    log += WorkoutScript("w-3-days-ago", "u-late").started(NOW - 3 * DAY).completed(
        NOW - 3 * DAY + HOUR, 5000.0).events
    # A start location out of range (sealed, as ingest would never let it be: a raw
    # producer), and coordinates sealed with no key they open with.
    off_map = WorkoutScript("w-off-map", "u-raw").started(NOW - HOUR).events[0]
    off_map["location"] = {"latitude": 95.0, "longitude": 13.4}
    garbled = WorkoutScript("w-garbled", "u-raw").started(NOW - HOUR).events[0]
    garbled.update(location={"latitude": 0.0, "longitude": 0.0},
                   sealed_coordinates=b"\x01" + bytes(40))
    log += [off_map, garbled]
    # A device dated 2100, a third of the way in.
    log.insert(len(log) // 3, WorkoutScript("w-2100", "u-future").started(YEAR_2100).events[0])
    # A workout whose start never arrives, then more of its user so their clock moves on.
    log += WorkoutScript("w-ghost", "u-ghost").started(NOW - 3 * HOUR).updated(
        NOW - 3 * HOUR + 60_000, 100.0, [120]).events[1:]
    log += WorkoutScript("w-after", "u-ghost").started(NOW - 2 * HOUR).completed(
        NOW - HOUR, 3000.0).events
    return log


def partition_of(user_id: str, partitions: int) -> int:
    if partitions == 8:  # the busy partition: the fleet's users and the syncer together
        return BUSY if user_id.startswith(("user-", "u-syncer")) else 1 + zlib.crc32(
            user_id.encode()) % 7
    return zlib.crc32(user_id.encode()) % partitions


def produce(settings: FitStreamSettings, log: list[dict[str, Any]]) -> None:
    """The log as ingest writes it (coordinates sealed), each user on its partition."""
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    cipher = FieldCipher(key_store(settings))
    producer = Producer(producer_config(settings.kafka))
    for event in log:
        subject = event_subject(event)
        producer.produce(settings.kafka.events_topic, key=event["user_id"].encode(),
                         value=serde.encode(subject, seal_coordinates(cipher, subject, event)),
                         partition=partition_of(event["user_id"],
                                                settings.kafka.events_partitions))
    assert producer.flush(30) == 0


def run_settings(broker: FitStreamSettings, tmp, name: str, partitions: int,
                 batch: int | None) -> FitStreamSettings:
    base = broker.model_copy(update={"kafka": broker.kafka.model_copy(
        update={"events_partitions": partitions})})
    settings = isolated(base, tmp, f"diff-{name}")
    if batch is not None:
        settings = settings.model_copy(update={"processor": settings.processor.model_copy(
            update={"batch_max_records": batch})})
    return settings


def flink_settings(settings: FitStreamSettings, mode: str = "thread") -> FitStreamSettings:
    processor = settings.processor
    return settings.model_copy(update={"processor": processor.model_copy(update={
        "engine": "flink", "flink": processor.flink.model_copy(
            update={"checkpoint_interval_s": 1.0, "execution_mode": mode})})})


def flink_job(settings: FitStreamSettings, *args: str) -> subprocess.Popen:
    """``fitstream process --engine flink`` as an operator starts it, in a session of
    its own so that a kill takes its JVM and Python workers too."""
    log = settings.state_dir / "logs" / "flink.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "cli.main", "process", *args],
                                cwd=REPO_ROOT, env={**env, **settings.to_env()}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def flink_log(settings: FitStreamSettings) -> str:
    return (settings.state_dir / "logs" / "flink.log").read_text(errors="replace")


def kill_group(job: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # a bounded job that ended leaves none
        os.killpg(job.pid, signal.SIGKILL)
    job.wait()


def in_open_transaction(settings: FitStreamSettings, topic: str) -> bool:
    """Records of ``topic`` written in a transaction not committed yet: the log end is
    past the last stable offset (what read_committed clients see as the end)."""
    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        consumer = Consumer(consumer_config(settings.kafka, "test-open-transaction",
                                            **{"isolation.level": isolation}))
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends[isolation] = [consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                          timeout=10)[1] for p in partitions]
        consumer.close()
    return ends["read_committed"] != ends["read_uncommitted"]


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return crafted_log()


@pytest.fixture(scope="module")
def flink_run(broker, tmp_path_factory, log):
    """The Flink job over the whole log from offset 0 into fresh topics, bounded (it ends
    at the log's end): settings, canonical outputs, committed records per topic."""
    settings = flink_settings(run_settings(broker, tmp_path_factory.mktemp("flink"), "flink",
                                           8, None))
    produce(settings, log)
    job = flink_job(settings, "--bounded")
    try:
        assert job.wait(600) == 0, flink_log(settings)[-4000:]
    finally:
        kill_group(job)
    outputs, counts = read_outputs(settings)
    return settings, canonical(outputs), counts


def processed(settings: FitStreamSettings, stack: LocalStack) -> None:
    """Wait until the processor has committed the whole events topic and every board
    completion (Faust flushes what it sent before it commits)."""
    position = LogPosition(settings.kafka)
    group = settings.processor.app_id
    kafka = settings.kafka

    def caught_up() -> bool:
        return all(position.committed(topic, group) == position.ends(topic)
                   for topic in (kafka.events_topic, kafka.board_completions_topic))
    try:
        wait_until(caught_up, "the processor to commit the whole log",
                   progress=lambda: position.committed(kafka.events_topic, group),
                   alive=stack.check)
    finally:
        position.close()


def read_outputs(settings: FitStreamSettings) -> tuple[dict[str, list[dict[str, Any]]],
                                                     Counter[str]]:
    """Every output topic, decoded, in each partition's order; and the records per output
    (what read_committed consumers receive: a count of each output's records)."""
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    kafka = settings.kafka
    names = {o.topic(kafka): o.result_field for o in OUTPUTS}
    by_subject = {o.subject: o.result_field for o in OUTPUTS}
    read = read_topics(settings, [*sorted(names), kafka.dlq_topic])
    outputs: dict[str, list[dict[str, Any]]] = {}
    counts: Counter[str] = Counter()
    for topic in sorted(names):
        for message in read[topic]:
            subject, record = serde.decode(message.value())
            if record.get("kind") == "leaderboard_top":
                continue  # decided in arrival order across users: see the module docstring
            outputs.setdefault(by_subject[subject], []).append(record)
            counts[names[topic]] += 1
    outputs["rejections"] = []
    for message in read[kafka.dlq_topic]:
        _, event = serde.decode(message.value())
        outputs["rejections"].append({"reason": read_headers(message.headers())["dlq.reason"],
                                      "event_id": event["event_id"]})
        counts["rejections"] += 1
    return outputs, counts


def topic_outputs(settings: FitStreamSettings) -> dict[str, list[dict[str, Any]]]:
    return read_outputs(settings)[0]


def backfill_outputs(settings: FitStreamSettings) -> dict[str, list[dict[str, Any]]]:
    """The as-is run's log written to bronze as the lakehouse sink writes it, and the
    Spark backfill's pipeline over it."""
    from deltalake import write_deltalake

    from jobs.backfill import pipeline_outputs
    from jobs.spark import spark_session
    from stores.delta.tables import (
        BRONZE_EVENTS,
        PARTITIONS,
        bronze_event_rows,
        bronze_event_schema,
    )

    registry = registry_from_settings(settings.schema_registry)
    serde = AvroSerde(registry)
    messages = read_topic(settings, settings.kafka.events_topic)
    rows = bronze_event_rows(bronze_event_schema(registry),
                             [(serde.decode(m.value())[1], m) for m in messages])
    write_deltalake(settings.lakehouse_uri(BRONZE_EVENTS), rows,
                    partition_by=PARTITIONS[BRONZE_EVENTS])
    spark = spark_session(settings, "test-differential")
    try:
        return pipeline_outputs(settings, spark)
    finally:
        spark.stop()


def test_every_layout_batch_size_the_backfill_and_flink_give_the_same_outputs(
        broker, tmp_path_factory, log, flink_run):
    runs = {"as-is": (8, None), "3-partitions": (3, None), "batch-1": (8, 1),
            "largest-batch": (8, len(log))}
    results = {}
    for name, (partitions, batch) in runs.items():
        settings = run_settings(broker, tmp_path_factory.mktemp(name), name, partitions, batch)
        produce(settings, log)
        stack = LocalStack()
        stack.start(settings, "processor", "process")
        try:
            processed(settings, stack)
        finally:
            stack.stop()
        results[name] = canonical(topic_outputs(settings))
        if name == "as-is":
            results["backfill"] = canonical(backfill_outputs(settings))
            as_is = results[name]
    results["flink"] = flink_run[1]

    # What the log was crafted to show, on the as-is run.
    rejected = dict((event_id, reason) for reason, event_id in as_is["rejections"])
    syncer = [e["event_id"] for e in log if e["user_id"] == "u-syncer"]
    assert len(syncer) == 6 and not set(syncer) & set(rejected)
    assert {s[1] for s in as_is["summaries"] if s[0] == "u-syncer"} == {"w-sync-0", "w-sync-1"}
    assert rejected[next(e["event_id"] for e in log if e["workout_id"] == "w-2100")] == \
        "from_future"
    assert {rejected.get(e["event_id"]) for e in log if e["workout_id"] == "w-ghost"} == {
        "unknown_workout"}
    assert [rejected.get(e["event_id"]) for e in log if e["user_id"] == "u-raw"] == [
        "out_of_bounds", "unreadable_coordinates"]  # opened before the bounds, everywhere
    assert {rejected.get(e["event_id"]) for e in log if e["workout_id"] == "w-3-days-ago"} == {
        "late"}  # judged by their own clock: the day's earlier workout counts
    assert len(as_is["summaries"]) > 15 and as_is["unlocks"] and as_is["features"]

    for name, result in results.items():
        for output, content in as_is.items():
            assert result[output] == content, (name, output)


def test_flink_killed_mid_stream_resumes_from_its_checkpoint_exactly_once(
        broker, tmp_path, log, flink_run):
    _, clean, clean_counts = flink_run
    # Process mode here, thread mode (the default) in the clean run: both modes agree.
    settings = flink_settings(run_settings(broker, tmp_path, "flink-kill", 8, None), "process")
    kafka = settings.kafka
    position = LogPosition(kafka)
    group = settings.processor.consumer_group
    first, rest = log[:len(log) // 2], log[len(log) // 2:]
    produce(settings, first)
    job = flink_job(settings)
    try:
        # A checkpoint that covers the first half (the source commits its offsets when
        # a checkpoint completes) ...
        wait_until(lambda: position.committed(kafka.events_topic, group)
                   == position.ends(kafka.events_topic),
                   "a checkpoint covering the first half of the log",
                   progress=lambda: position.committed(kafka.events_topic, group),
                   alive=lambda: job.poll() is None)
        # ... then the second half, and the kill while its outputs are in a transaction
        # (or, on a machine too slow to look in time, once it is all checkpointed: the
        # restart then resumes with nothing left to do, and the checks still hold).
        produce(settings, rest)
        wait_until(lambda: in_open_transaction(settings, kafka.summaries_topic)
                   or position.committed(kafka.events_topic, group)
                   == position.ends(kafka.events_topic),
                   "summaries of the second half in an open transaction",
                   alive=lambda: job.poll() is None, poll_s=0.05)
    finally:
        kill_group(job)

    job = flink_job(settings)  # the same command: it resumes from the newest checkpoint
    try:
        outputs: list[Any] = [None]

        def recovered() -> bool:
            outputs[0] = canonical(topic_outputs(settings))
            return outputs[0] == clean

        wait_until(recovered, "the restored job's views to equal the clean run's",
                   progress=lambda: {k: len(v) for k, v in (outputs[0] or {}).items()},
                   alive=lambda: job.poll() is None, poll_s=1)
        assert "restored from" in flink_log(settings)
        # Exactly once: every topic holds the clean run's records, none twice.
        wait_until(lambda: read_outputs(settings)[1] == clean_counts,
                   "the same committed records as the clean run",
                   progress=lambda: read_outputs(settings)[1], stall_s=30)
    finally:
        kill_group(job)
        position.close()
