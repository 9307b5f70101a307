"""``fitstream jobs fleet-lakehouse``: a simulated fleet straight into the lakehouse and
Feast, without a broker: for the model tests, the notebooks and the benchmarks, which
need the tables the stream would have written but not the stream.

1. :func:`fitstream.simulator.fleet.simulate_fleet` makes every device record in delivery
   order, ten users at a time (the memory bound); malformed records are dropped (the
   processor dead-letters them). Events are
   fed as a trusted producer writing straight to Kafka may send them: coordinates plain
   (the simulator never seals; ``produce_fleet`` seals for ingest's path, and the
   processor opens them again before the core sees them), so no key store is needed.
2. Each user's events, in delivery (log) order, go through the pipeline core
   (:func:`fitstream.domain.pipeline.run_batch`) as one batch with empty state, as the
   backfill replays a user (jobs/backfill.py): every decision depends only on the user's
   own events, so one batch gives what the stream's many batches give. Records carry no
   broker timestamp (``ref[2]`` is None), so ``from_future`` is not judged, as for bronze
   rows without one; a fleet in the past would pass that check anyway.
3. The outputs are written as the sinks write them, one Delta commit per table, each
   replacing the table: ``silver.workouts`` (latest summary per workout),
   ``gold.user_daily``, ``features.user_features`` (every feature row).
4. ``features.weekly_distance_training`` with the rules of jobs/training_set.py (the Spark
   job), in pandas: the spine from :func:`~fitstream.domain.features.snapshot_days`, each
   snapshot's latest feature row at or before it, and the label of
   :func:`~fitstream.domain.features.next_days_distance_m` (whole millimetres).
   tests/integration/test_fleet_lakehouse.py proves it equals the Spark job's table.
5. Feast: the definitions applied for these settings, and each user's latest feature
   row pushed to the online store (what the online sink would have pushed last).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake import write_deltalake

from feature_repo.definitions import PUSH_SOURCE
from fitstream.domain import pipeline
from fitstream.domain.daily_totals import user_daily_rows
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.features import DAY_MS, FLAT_FEATURE_NAMES, LABEL_HORIZON_DAYS, snapshot_days
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import FleetSpec, FleetTally, simulate_fleet
from stores.delta.tables import (
    GOLD_SCHEMA,
    GOLD_USER_DAILY,
    PARTITIONS,
    SILVER_WORKOUTS,
    TRAINING_SET,
    USER_FEATURES,
    silver_rows,
    user_feature_rows,
)
from stores.feast.store import apply_definitions, feature_store

LABEL = f"label_next_{LABEL_HORIZON_DAYS}d_distance_m"
TRAINING_PARTITIONS = ["snapshot_date"]
# A fixed first day: the same seed gives the same tables whatever day they are built
# (weekday habits would shift with a start relative to today). 180 days end before
# this module was written, so the fleet is in the past.
DEFAULT_START_MS = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)

# Users simulated and replayed together: bounds the build's memory (see replay_fleet).
USERS_PER_SLICE = 10

Progress = Callable[[str, int, int], None]
"""``(stage, done, total)``: called as the build advances (total 0: not known yet)."""


class _NoState:
    """A user's replay starts with no state: the fleet is the whole log."""

    def get(self, store: str, key: str) -> dict[str, Any] | None:
        return None


def replay_fleet(spec: FleetSpec, policy: EventTimePolicy, progress: Progress | None = None,
                 ) -> tuple[FleetTally, list[pipeline.PipelineResult]]:
    """The fleet's records, per user in delivery order, through the pipeline core.

    A slice of :data:`USERS_PER_SLICE` users at a time (each user's records are the same
    as in the whole log: :func:`simulate_fleet`'s ``users``), keeping only what the
    tables need (summaries, feature rows, rejections): a user's 180 days of samples take
    about 150 MB as Python objects, so holding the whole log limited a build to about 50
    users on this machine."""
    tally = FleetTally()
    results = []
    for first in range(0, spec.users, USERS_PER_SLICE):
        by_user: dict[str, list[tuple[dict[str, Any], list[Any]]]] = {}
        for offset, record in enumerate(simulate_fleet(
                spec, tally, range(first, min(first + USERS_PER_SLICE, spec.users)))):
            if record.event is not None:
                by_user.setdefault(record.key, []).append((record.event, [0, offset, None]))
        for user_id in sorted(by_user):
            result = pipeline.run_batch(by_user.pop(user_id), _NoState(), policy)
            results.append(pipeline.PipelineResult(
                summaries=result.summaries, features=result.features,
                rejections=result.rejections))
        if progress:
            progress("simulate and replay", min(first + USERS_PER_SLICE, spec.users),
                     spec.users)
    return tally, results


def training_rows(features: pd.DataFrame, workouts: pd.DataFrame) -> pd.DataFrame:
    """The weekly-distance training set (jobs/training_set.py's rules) from the feature
    rows (user_id, as_of and the features) and silver rows (user_id, status, end_time,
    distance_meters): one row per user and snapshot midnight, the latest feature row at
    or before it (``feature_as_of``), and the label."""
    completed = workouts[workouts["status"] == "completed"]
    if completed.empty:
        raise ValueError("silver.workouts holds no completed workout: nothing to label")
    data_end = int(completed["end_time"].max())
    horizon_ms = LABEL_HORIZON_DAYS * DAY_MS
    first = features.groupby("user_id")["as_of"].min()
    spine = pd.DataFrame(
        [(user, day * DAY_MS) for user, at in first.items()
         for day in snapshot_days(int(at), data_end)],
        columns=["user_id", "snapshot_at"]).astype({"snapshot_at": "int64"})
    ordered = features.sort_values("as_of").rename(columns={"as_of": "feature_as_of"})
    joined = pd.merge_asof(spine.sort_values("snapshot_at"), ordered,
                           left_on="snapshot_at", right_on="feature_as_of", by="user_id",
                           direction="backward", allow_exact_matches=True)
    # The label in whole millimetres, as next_days_distance_m sums it: per user, the
    # running sum over workouts by end time, read at snapshot and snapshot + horizon.
    labels = np.zeros(len(joined), dtype=np.int64)
    millimetres = completed.assign(mm=np.round(completed["distance_meters"] * 1000).astype("int64"))
    by_user = {user: group.sort_values("end_time") for user, group in
               millimetres.groupby("user_id")}
    for user, rows in joined.groupby("user_id").indices.items():
        done = by_user.get(user)
        if done is None:
            continue
        ends = done["end_time"].to_numpy()
        running = np.concatenate([[0], np.cumsum(done["mm"].to_numpy())])
        at = joined["snapshot_at"].to_numpy()[rows]
        # (at, at + horizon]: ends > at and ends <= at + horizon.
        labels[rows] = (running[np.searchsorted(ends, at + horizon_ms, side="right")]
                        - running[np.searchsorted(ends, at, side="right")])
    joined[LABEL] = labels / 1000.0
    joined["event_timestamp"] = pd.to_datetime(joined["snapshot_at"], unit="ms", utc=True)
    joined["snapshot_date"] = joined["event_timestamp"].dt.strftime("%Y-%m-%d")
    columns = ["user_id", "snapshot_at", "feature_as_of", *FLAT_FEATURE_NAMES, LABEL,
               "event_timestamp", "snapshot_date"]
    return joined[columns].sort_values(["user_id", "snapshot_at"]).reset_index(drop=True)


def _training_table(frame: pd.DataFrame, feature_schema: pa.Schema) -> pa.Table:
    """The frame with the offline table's feature types (integers stay integers where
    every row has one: pandas turned a nullable int column to floats)."""
    fields = [pa.field("user_id", pa.string()), pa.field("snapshot_at", pa.int64()),
              pa.field("feature_as_of", pa.int64()),
              *(feature_schema.field(name) for name in FLAT_FEATURE_NAMES),
              pa.field(LABEL, pa.float64()),
              pa.field("event_timestamp", pa.timestamp("us", tz="UTC")),
              pa.field("snapshot_date", pa.string())]
    return pa.Table.from_pandas(frame, schema=pa.schema(fields), preserve_index=False)


def _overwrite(settings: FitStreamSettings, table: str, rows: pa.Table,
               partition_by: list[str]) -> None:
    write_deltalake(settings.lakehouse_uri(table), rows, mode="overwrite",
                    schema_mode="overwrite", partition_by=partition_by,
                    storage_options=settings.lakehouse.object_store_options())


def build_fleet_lakehouse(settings: FitStreamSettings, users: int, days: int, seed: int, *,
                          start_ms: int = DEFAULT_START_MS,
                          progress: Progress | None = None) -> dict[str, Any]:
    """Simulate, replay, write the lakehouse tables, apply Feast and fill its online
    store; see the module docstring. Returns the report: counts per table and the
    seconds each stage took."""
    from feast.data_source import PushMode

    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[stage] = round(now - clock, 2)
        clock = now

    policy = EventTimePolicy(settings.processor.allowed_lateness_ms,
                             settings.processor.unknown_workout_timeout_ms,
                             settings.processor.max_future_skew_ms)
    tally, results = replay_fleet(FleetSpec(users, days, seed, start_ms), policy, progress)
    lap("simulate_and_replay")

    summaries = [s for result in results for s in result.summaries]
    feature_records = [r for result in results for r in result.features]
    silver = silver_rows(summaries)
    features = user_feature_rows(feature_records)
    gold = pa.Table.from_pylist(user_daily_rows(silver.to_pylist()), schema=GOLD_SCHEMA)
    if progress:
        progress("delta", 0, 4)
    _overwrite(settings, SILVER_WORKOUTS, silver, PARTITIONS[SILVER_WORKOUTS])
    _overwrite(settings, GOLD_USER_DAILY, gold, PARTITIONS[GOLD_USER_DAILY])
    _overwrite(settings, USER_FEATURES, features, PARTITIONS[USER_FEATURES])
    if progress:
        progress("delta", 3, 4)
    training = training_rows(
        features.select(["user_id", "as_of", *FLAT_FEATURE_NAMES]).to_pandas(),
        silver.select(["user_id", "status", "end_time", "distance_meters"]).to_pandas())
    _overwrite(settings, TRAINING_SET, _training_table(training, features.schema),
               TRAINING_PARTITIONS)
    if progress:
        progress("delta", 4, 4)
    lap("delta")

    if progress:
        progress("feast", 0, 2)
    apply_definitions(settings)
    if progress:
        progress("feast", 1, 2)
    latest = {r["user_id"]: r for r in sorted(feature_records, key=lambda r: r["as_of"])}
    online = user_feature_rows(latest.values()).drop(["as_of_date"]).to_pandas()
    if len(online):
        feature_store(settings).push(PUSH_SOURCE, online, to=PushMode.ONLINE)
    if progress:
        progress("feast", 2, 2)
    lap("feast")

    return {
        "users": users, "days": days, "seed": seed, "start_ms": start_ms,
        "records": tally.records, "workouts": tally.workouts, "completed": tally.completed,
        "rejections": sum(len(r.rejections) for r in results),
        "tables": {SILVER_WORKOUTS: silver.num_rows, GOLD_USER_DAILY: gold.num_rows,
                   USER_FEATURES: features.num_rows, TRAINING_SET: len(training)},
        "online_users": len(online),
        "mean_label_m": float(training[LABEL].mean()) if len(training) else 0.0,
        "seconds": {**seconds, "total": round(sum(seconds.values()), 2)},
    }
