"""The backfill replays the processor's event-time decisions from bronze (issue 9
finding 2): a record dated in 2100 is from the future in both, because bronze keeps
each record's Kafka timestamp, so no one after it is late in either. The stream runs
the pipeline core in batches of one partition; the backfill runs it per user, in one
batch each (issue 10): the same summaries."""

from __future__ import annotations

from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain import pipeline
from fitstream.domain.event_time import EventTimePolicy
from fitstream.settings import SchemaRegistrySettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from jobs.backfill import DictState, rebuild_user
from stores.delta.tables import SILVER_SCHEMA, bronze_event_rows, bronze_event_schema, json_columns
from tests.unit.test_workout_session import WorkoutScript

START = 1_793_577_600_000  # 2026-11-02 00:00 UTC
YEAR_2100 = 4_102_444_800_000
BATCH = 50
POLICY = EventTimePolicy()


def the_log() -> list[tuple[dict, int]]:
    """(event, record timestamp) in log order: a small fleet, and one event dated 2100
    early in the log (its record was written on day one)."""
    records = [(r.event, r.delivered_at) for r in simulate_fleet(
        FleetSpec(users=6, days=5, seed=3, start_ms=START, chaos=ChaosKnobs(malformed=0)))]
    attack = WorkoutScript("w-2100", "u-attacker").started(at=YEAR_2100).events[0]
    records.insert(20, (attack, records[20][1]))
    return records


def stream_summaries(log):
    state = DictState()
    latest, rejected = {}, []
    for first in range(0, len(log), BATCH):
        chunk = [(event, [0, offset, at]) for offset, (event, at)
                 in enumerate(log[first:first + BATCH], first)]
        result = pipeline.run_batch(chunk, state, POLICY)
        state.stored.update(result.snapshot)
        latest |= {s["workout_id"]: s for s in result.summaries}
        rejected += [(r.event["workout_id"], r.reason.value) for r in result.rejections]
    return latest, rejected


def test_the_backfill_judges_from_future_by_the_record_timestamp_as_the_stream_does():
    log = the_log()
    streamed, rejected = stream_summaries(log)
    assert rejected == [("w-2100", "from_future")]
    assert len(streamed) > 10

    registry = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)
    messages = [Message(topic="events", partition=0, offset=offset, key=b"k",
                        timestamp=(TIMESTAMP_CREATE_TIME, at))
                for offset, (_, at) in enumerate(log)]
    bronze = bronze_event_rows(bronze_event_schema(registry),
                               [(event, m) for (event, _), m in zip(log, messages, strict=True)])
    assert bronze.column("kafka_timestamp").to_pylist() == [at for _, at in log]
    rows = bronze.to_pandas()
    silver = {}
    for user_id in rows["user_id"].unique():
        rebuilt = rebuild_user(rows[rows["user_id"] == user_id], json_columns(registry), POLICY)
        silver |= {r["workout_id"]: r for r in rebuilt.to_dict("records")
                   if r["row_kind"] == "silver"}
    assert set(silver) == set(streamed)
    for workout_id, summary in streamed.items():
        row = silver[workout_id]
        assert {f: row[f] for f in ("status", "start_time", "distance_meters", "sample_count",
                                    "moving_duration_ms")} == {
            f: summary[f] for f in ("status", "start_time", "distance_meters", "sample_count",
                                    "moving_duration_ms")}, workout_id
    assert all(name in SILVER_SCHEMA.names for name in ("status", "start_time"))
