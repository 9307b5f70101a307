"""``fitstream jobs coordinates-ttl``: remove the route coordinates of workouts older than
the retention (six months by default) from every store, and keep everything else.

What goes: latitude and longitude (positions, samples' lat/lon, routes, start
locations), plain or sealed (``sealed_coordinates``, fitstream/privacy/coordinates.py).
What stays: the workouts, their distances, times, heart rates and speeds,
so summaries, leaderboards, achievements, stats and the gold tables do not change.

- Delta ``bronze.workout_events``: every ``event_date`` partition before the cutoff is
  rewritten in one commit (a predicate overwrite) with the coordinates taken out of the
  JSON columns, then vacuumed with no retention so the old files are gone.
- ClickHouse: ``workout_routes`` of workouts that ended before the cutoff get empty
  coordinate arrays, and their ``workout_samples`` get lat = lon = 0 (mutations, waited
  for).

Silver and gold hold no coordinates. Dead letters keep their bytes as received (they
are evidence of what a device sent; purge them by their own retention).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from fitstream.privacy.predicates import delta_string_literal
from fitstream.settings import FitStreamSettings
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore
from stores.delta.tables import BRONZE_EVENTS, PARTITIONS

RETENTION = timedelta(days=183)
COORDINATE_COLUMNS = ("route_coordinates", "location", "position", "sealed_coordinates")
SAMPLE_COORDINATES = ("lat", "lon")
IDS_PER_MUTATION = 1000
MUTATION_TIMEOUT_S = 120


def cutoff_of(now: datetime, retention: timedelta = RETENTION) -> datetime:
    return now.astimezone(UTC) - retention


def _without_coordinates(samples: str | None) -> str | None:
    if samples is None:
        return None
    return orjson.dumps([{k: v for k, v in s.items() if k not in SAMPLE_COORDINATES}
                         for s in orjson.loads(samples)]).decode()


def strip_bronze(settings: FitStreamSettings, cutoff: datetime) -> int:
    """Rewrite bronze partitions older than ``cutoff``; returns the events rewritten."""
    uri = settings.lakehouse_uri(BRONZE_EVENTS)
    options = settings.lakehouse.object_store_options()
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return 0
    day = f"{cutoff:%Y-%m-%d}"
    table = DeltaTable(uri, storage_options=options)
    old = table.to_pyarrow_table(filters=[("event_date", "<", day)])
    if old.num_rows == 0:
        return 0
    columns = {name: old.column(name) for name in old.column_names}
    for name in COORDINATE_COLUMNS:
        if name in columns:
            columns[name] = pa.nulls(old.num_rows, old.schema.field(name).type)
    if "samples" in columns:
        columns["samples"] = pa.array(
            [_without_coordinates(v) for v in old.column("samples").to_pylist()], pa.string())
    stripped = pa.table(columns, schema=old.schema)
    write_deltalake(uri, stripped, mode="overwrite",
                    predicate=f"event_date < {delta_string_literal(day)}",
                    partition_by=PARTITIONS[BRONZE_EVENTS], storage_options=options)
    DeltaTable(uri, storage_options=options).vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False)
    return old.num_rows


def strip_clickhouse(store: ClickHouseStore, cutoff: datetime) -> dict[str, int]:
    """Blank the coordinates of workouts that ended before ``cutoff``; rows touched."""
    cutoff_ms = int(cutoff.timestamp() * 1000)
    ids = queries.routes_with_coordinates(store, cutoff_ms)
    old = queries.workouts_ended_before(store, cutoff_ms)
    touched = {"workout_routes": len(ids), "workout_samples": 0}
    for start in range(0, len(old), IDS_PER_MUTATION):
        chunk = tuple(old[start:start + IDS_PER_MUTATION])
        touched["workout_samples"] += queries.count_samples_with_coordinates(store, chunk)
        queries.blank_sample_coordinates(store, chunk)
    for start in range(0, len(ids), IDS_PER_MUTATION):
        queries.blank_route_coordinates(store, tuple(ids[start:start + IDS_PER_MUTATION]))

    def pending() -> int:
        left = queries.count_routes_with_coordinates(store, cutoff_ms)
        for start in range(0, len(old), IDS_PER_MUTATION):
            left += queries.count_samples_with_coordinates(
                store, tuple(old[start:start + IDS_PER_MUTATION]))
        return left

    deadline = time.monotonic() + MUTATION_TIMEOUT_S
    while pending():  # mutations run in the background on a server
        if time.monotonic() > deadline:
            raise RuntimeError("the coordinate mutations did not finish in time")
        time.sleep(0.2)
    return touched


def coordinates_ttl(settings: FitStreamSettings, store: ClickHouseStore,
                    now: datetime | None = None) -> dict[str, Any]:
    cutoff = cutoff_of(now or datetime.now(UTC))
    return {"cutoff": cutoff.isoformat(), "bronze_events": strip_bronze(settings, cutoff),
            **strip_clickhouse(store, cutoff)}
