"""Spark backfill wall time: a bronze table of at least 1M events, rebuilt into silver,
gold and the user features (``fitstream jobs backfill``'s work), Spark start-up included
and reported apart.

Bronze is written straight from the simulator through the bronze writer (offsets are
assigned per partition as the broker would), so the benchmark needs no broker.
"""

from __future__ import annotations

import shutil
import statistics
import time
import zlib

from confluent_kafka import Message
from deltalake import Transaction
from rich.console import Console

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from sinks.delta.writers import BronzeEventsWriter
from stores.delta.lakehouse import DeltaTables

SPEC = FleetSpec(users=420, days=28, seed=2027, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.01, out_of_order=0.01, late=0.02, malformed=0))
PARTITIONS = 8
BATCH = 50_000


def fill_bronze(settings: FitStreamSettings, console: Console) -> int:
    registry = registry_from_settings(settings.schema_registry)
    serde = AvroSerde(registry)
    writer = BronzeEventsWriter(DeltaTables(settings), serde, registry)
    writer.prepare()
    offsets = [0] * PARTITIONS
    batch: list[Message] = []
    total = 0
    topic = settings.kafka.events_topic
    for record in simulate_fleet(SPEC):
        if record.raw is not None:
            continue
        partition = zlib.crc32(record.key.encode()) % PARTITIONS
        batch.append(Message(topic=topic, partition=partition, offset=offsets[partition],
                             value=serde.encode(f"fitstream.workouts.{record.event['type']}",
                                                record.event)))
        offsets[partition] += 1
        if len(batch) >= BATCH:
            total += writer.write(batch, [Transaction(f"bench:{p}", o)
                                          for p, o in enumerate(offsets)])
            batch = []
            console.print(f"bronze: {total:,} events", end="\r")
    if batch:
        total += writer.write(batch, [Transaction(f"bench:{p}", o) for p, o in enumerate(offsets)])
    return total


def run(repeats: int = 3, console: Console | None = None) -> dict:
    from jobs.backfill import run_backfill
    from jobs.spark import spark_session

    console = console or Console(stderr=True)
    base = FitStreamSettings()
    settings = base.model_copy(update={"state_dir": base.state_dir / "bench" / "backfill"})
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    events = fill_bronze(settings, console)
    console.print(f"bronze: {events:,} events")
    assert events >= 1_000_000, "the benchmark needs at least 1M events"
    runs = []
    for attempt in range(repeats):
        started = time.monotonic()
        spark = spark_session(settings, "bench-backfill")
        ready = time.monotonic()
        try:
            for table in ("silver/workouts_backfill", "gold/user_daily_backfill",
                          "features/user_features_backfill"):
                shutil.rmtree(f"{settings.lakehouse_root}/{table}", ignore_errors=True)
            report = run_backfill(settings, spark)
        finally:
            spark.stop()
        runs.append({"seconds": round(time.monotonic() - started, 2),
                     "spark_start_s": round(ready - started, 2),
                     "silver_rows": report["silver"]["backfilled"],
                     "gold_rows": report["gold"]["backfilled"],
                     "feature_rows": report["features"]["backfilled"]})
        console.print(f"run {attempt + 1}: {runs[-1]}")
    median = statistics.median(r["seconds"] for r in runs)
    return {"benchmark": "Spark backfill: bronze → silver + gold + features (local[2])",
            "records": events, "samples": 0, "median_seconds": median,
            "records_per_s": round(events / median), "samples_per_s": 0, "runs": runs}
