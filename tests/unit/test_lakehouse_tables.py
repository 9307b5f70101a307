"""Lakehouse tables on real Delta (in a temporary directory): schema evolution from the
contracts, merge semantics of silver and gold, and the pure daily totals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from confluent_kafka import Message
from deltalake import DeltaTable, Transaction

from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.daily_totals import user_daily_rows
from fitstream.settings import FitStreamSettings, SchemaRegistrySettings
from sinks.delta.writers import BronzeEventsWriter, SilverGoldWriter
from stores.delta.lakehouse import DeltaTables
from stores.delta.tables import BRONZE_EVENTS, GOLD_USER_DAILY, SILVER_WORKOUTS
from tests.unit.test_workout_session import T0, WorkoutScript

SUMMARY = "fitstream.views.WorkoutSummary"


def registry_with_cadence(tmp: Path) -> Path:
    """A copy of the repo registry whose WorkoutUpdated gained an optional field (v3)."""
    root = Path(SchemaRegistrySettings().repo_registry_path).parent
    copy = tmp / "schemas"
    shutil.copytree(root, copy)
    schema = json.loads((copy / "avro/workouts/WorkoutUpdated.v2.avsc").read_text())
    schema["fields"].append({"name": "cadence_spm", "type": ["null", "int"], "default": None})
    (copy / "avro/workouts/WorkoutUpdated.v3.avsc").write_text(json.dumps(schema))
    index = json.loads((copy / "registry.json").read_text())
    index["subjects"]["fitstream.workouts.WorkoutUpdated"].append(
        {"version": 3, "id": 1000, "file": "avro/workouts/WorkoutUpdated.v3.avsc"})
    (copy / "registry.json").write_text(json.dumps(index))
    return copy / "registry.json"


def messages(serde: AvroSerde, events: list[dict], first_offset: int = 0) -> list[Message]:
    return [Message(topic="events", partition=0, offset=first_offset + i, key=b"u-1",
                    value=serde.encode(f"fitstream.workouts.{e['type']}", e))
            for i, e in enumerate(events)]


def test_a_new_optional_contract_field_becomes_a_bronze_column_without_a_manual_step(tmp_path):
    tables = DeltaTables(FitStreamSettings(state_dir=tmp_path))
    old = RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path)
    old_serde = AvroSerde(old)
    writer = BronzeEventsWriter(tables, old_serde, old)
    writer.prepare()
    script = WorkoutScript().started().updated(T0 + 60_000, 200.0, [120])
    writer.write(messages(old_serde, script.events), [Transaction("bronze:events:0", 2)])

    new = RepoSchemaRegistry(registry_with_cadence(tmp_path))
    new_serde = AvroSerde(new)
    update = {**WorkoutScript().started().updated(T0 + 120_000, 400.0, [130]).events[1],
              "seq": 2, "event_id": "00000000-0000-4000-8000-000000000002", "cadence_spm": 172}
    BronzeEventsWriter(tables, new_serde, new).write(
        messages(new_serde, [update], first_offset=2), [Transaction("bronze:events:0", 3)])

    table = DeltaTable(tables.uri(BRONZE_EVENTS))
    assert "cadence_spm" in table.schema().to_arrow().names
    rows = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["kafka_offset"])
    assert [(r["kafka_offset"], r["type"], r["cadence_spm"]) for r in rows] == [
        (0, "WorkoutStarted", None), (1, "WorkoutUpdated", None), (2, "WorkoutUpdated", 172)]
    assert rows[0]["event_date"] == "2026-11-02"
    assert json.loads(rows[1]["samples"])[0]["heart_rate"] == 120
    assert table.transaction_version("bronze:events:0") == 3


def summary(workout: str, user: str, seq: int, status: str, start: int, distance: float,
            hr: float | None = 140.0) -> dict:
    return {"workout_id": workout, "user_id": user, "device_id": "d", "sport_type": "running",
            "status": status, "start_time": start, "end_time": start + 1_800_000,
            "moving_duration_ms": 1_800_000, "distance_meters": distance,
            "calories_burned": 300.0, "avg_heart_rate": hr, "avg_speed_mps": 2.5,
            "sample_count": 10, "last_seq": seq, "last_event_at": start + 1_800_000,
            "best_1k_ms": None, "best_5k_ms": None, "best_10k_ms": None}


def test_silver_keeps_the_latest_state_and_gold_follows_it(tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path)
    tables = DeltaTables(settings)
    serde = AvroSerde(RepoSchemaRegistry(settings.schema_registry.repo_registry_path))
    writer = SilverGoldWriter(tables, serde)
    writer.prepare()

    def batch(summaries: list[dict], offset: int) -> list[Message]:
        return [Message(topic="summaries", partition=0, offset=offset + i, value=serde.encode(
            SUMMARY, s)) for i, s in enumerate(summaries)]

    first = [summary("w1", "u1", 3, "active", T0, 2000.0),
             summary("w1", "u1", 7, "completed", T0, 5000.0),
             summary("w2", "u1", 9, "completed", T0 + 3_600_000, 3000.0, hr=None)]
    writer.write(batch(first, 0), [Transaction("sg:0", 3)])
    # A re-sent older version changes nothing; a new workout the next day adds a gold row.
    again = [summary("w1", "u1", 3, "active", T0, 2000.0),
             summary("w3", "u1", 5, "completed", T0 + 86_400_000, 10_000.0, hr=150.0)]
    writer.write(batch(again, 3), [Transaction("sg:0", 5)])

    silver = {r["workout_id"]: r for r in DeltaTable(
        tables.uri(SILVER_WORKOUTS)).to_pyarrow_table().to_pylist()}
    assert {w: (r["last_seq"], r["status"]) for w, r in silver.items()} == {
        "w1": (7, "completed"), "w2": (9, "completed"), "w3": (5, "completed")}
    gold = sorted(DeltaTable(tables.uri(GOLD_USER_DAILY)).to_pyarrow_table().to_pylist(),
                  key=lambda r: r["day"])
    assert gold == [
        {"user_id": "u1", "day": "2026-11-02", "sport": "running", "distance_meters": 8000.0,
         "moving_time_s": 3600.0, "workouts": 2, "calories": 600.0, "avg_heart_rate": 140.0},
        {"user_id": "u1", "day": "2026-11-03", "sport": "running",
         "distance_meters": 10_000.0, "moving_time_s": 1800.0, "workouts": 1,
         "calories": 300.0, "avg_heart_rate": 150.0}]
    assert writer.resume_at("sg:0") == 5


def test_daily_totals_weight_heart_rate_by_moving_time_and_skip_unfinished():
    rows = user_daily_rows([
        {**summary("a", "u", 1, "completed", T0, 1000.0, hr=100.0), "moving_duration_ms": 1000},
        {**summary("b", "u", 1, "completed", T0, 1000.0, hr=160.0), "moving_duration_ms": 3000},
        summary("c", "u", 1, "cancelled", T0, 9999.0),
        summary("d", "u", 1, "active", T0, 9999.0)])
    assert [(r["workouts"], r["distance_meters"], r["avg_heart_rate"]) for r in rows] == [
        (2, 2000.0, 145.0)]


def test_coordinates_ttl_strips_old_bronze_partitions_only_and_keeps_the_rest(tmp_path):
    from datetime import UTC, datetime

    from jobs.coordinates_ttl import strip_bronze

    settings = FitStreamSettings(state_dir=tmp_path)
    tables = DeltaTables(settings)
    registry = RepoSchemaRegistry(settings.schema_registry.repo_registry_path)
    serde = AvroSerde(registry)
    writer = BronzeEventsWriter(tables, serde, registry)
    writer.prepare()
    old_t0 = T0 - 200 * 86_400_000  # 2026-04-16
    old = WorkoutScript("w-old").started(old_t0).updated(old_t0 + 60_000, 200.0, [120])
    old = old.completed(old_t0 + 120_000, 400.0).events
    old[-1]["route_coordinates"] = [{"lat": 52.5, "lon": 13.4}]
    new = WorkoutScript("w-new").started().updated(T0 + 60_000, 300.0, [130]).events
    writer.write(messages(serde, old + new), [Transaction("bronze:events:0", 5)])

    cutoff = datetime.fromtimestamp((T0 - 100 * 86_400_000) / 1000, UTC)
    assert strip_bronze(settings, cutoff) == 3
    rows = {(r["workout_id"], r["seq"]): r for r in DeltaTable(
        tables.uri(BRONZE_EVENTS)).to_pyarrow_table().to_pylist()}
    assert len(rows) == 5
    assert rows[("w-old", 0)]["location"] is None
    assert rows[("w-old", 2)]["route_coordinates"] is None
    old_sample = json.loads(rows[("w-old", 1)]["samples"])[0]
    assert "lat" not in old_sample and "lon" not in old_sample
    assert (old_sample["heart_rate"], old_sample["distance_meters"]) == (120, 200.0)
    assert rows[("w-old", 1)]["current_distance_meters"] == 200.0
    assert json.loads(rows[("w-new", 0)]["location"]) == {"latitude": 52.5, "longitude": 13.4}
    assert json.loads(rows[("w-new", 1)]["samples"])[0]["lat"] == 52.5
    # Vacuumed: no file left in storage holds the old coordinates.
    import pyarrow.parquet as pq

    for path in Path(tables.uri(BRONZE_EVENTS)).rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            if row["workout_id"] == "w-old":
                assert '"lat"' not in (row["samples"] or "") and row["location"] is None
