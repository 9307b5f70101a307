"""Scoring on the stream (streams/scoring): throughput, and the latency from a feature row
on ``features.user.v1`` to its predictions stored in ClickHouse.

Set-up (not timed): a fresh broker; a small fleet (jobs/fleet_lakehouse.py) in the
lakehouse and Feast; the three models trained on it (``package.train``, as ``fitstream
models train``) and promoted through the gate (models.registry.promote). A model the
gate refuses (the forecast, which does not beat its baselines) is made champion anyway by
setting the alias to its new version, so that every row is scored by three real trained
models; the result says which were forced.

The feature rows are the fleet's own UserFeatures rows, each given to a user of its own
(``bench-00001``...), so that no row supersedes another in a batch (the scorer scores a
user's last row of a batch only) and every row costs three predictions.

- **Throughput**: ``ROWS`` rows pre-filled, their users' rows already in the online
  store; each run a fresh scorer (new group, its own prediction topics) with the
  champions loaded, timed from its start until it has consumed every row; median of the
  runs. Predictions are handed to the broker (flushed) before the scorer's offsets
  commit, so consumed-and-written is scored-and-delivered.
- **Latency**: rows produced at ``PROBE_RATE`` a second for new users, as the processor
  would, with the Feast online sink, the scorer and the ClickHouse prediction sinks
  consuming them (production's defaults: batches wait up to 0.5 s); each row is a probe,
  timed from its acknowledgement by the broker until the user's forecast, race-time
  prediction and recommendations are all in ClickHouse (chdb). The online sink and the
  scorer race as in production: the scorer waits for the online row. Everything runs in
  this one process (in production the sinks run in the API process and the scorer in
  its own), which the CPU share shows.
"""

from __future__ import annotations

import importlib
import os
import statistics
import threading
import time
from typing import Any

import numpy as np
from confluent_kafka import Producer
from deltalake import DeltaTable
from feast.data_source import PushMode
from rich.console import Console

from bench.models import code_version
from bench.stack import CpuWindow, bench_broker, broker_pid
from feature_repo.definitions import PUSH_SOURCE
from fitstream.contracts import AvroSerde, registry_from_settings, subjects
from fitstream.kafka.clients import producer_config
from fitstream.kafka.sink_runner import RunnerThreads
from fitstream.kafka.topics import create_topics
from fitstream.model_catalogue import MODELS
from fitstream.settings import ClickHouseSettings, FitStreamSettings
from jobs.fleet_lakehouse import build_fleet_lakehouse
from models.registry import promote
from models.tracking import mlflow_client
from sinks.clickhouse.topic_sink import ClickHouseTopicSink, view_runner
from sinks.feast.online_sink import OnlineFeatureSink, online_frame, online_runner
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import (
    FORECASTS,
    RACE_PREDICTIONS,
    RECOMMENDATIONS,
    apply_ddl,
    prediction_tables,
)
from stores.delta.tables import USER_FEATURES
from stores.feast.store import feature_store
from streams.scoring.scorer import Scorer, scorer_runner

FLEET_USERS, FLEET_DAYS, FLEET_SEED = 12, 120, 7
ROWS = 10_000
# Feature rows a second: one per completed workout. 5/s is hundreds of times a
# 1,000-user fleet's rate (about one workout a user a day).
PROBE_RATE = 5
PROBE_S = 60
WARMUP_S = 10
PUSH_CHUNK = 2_000
PREDICTION_TOPICS = ("forecasts_topic", "race_predictions_topic", "recommendations_topic",
                     "scoring_dlq_topic")


def train_champions(settings: FitStreamSettings, console: Console) -> dict[str, Any]:
    """Each catalogue model trained on the fleet and made @champion: promoted through
    the gate, or (refused) the alias set to the new version, recorded as forced."""
    champions = {}
    for key, spec in MODELS.items():
        report = importlib.import_module(spec.package).train(settings)
        decision = promote(settings, spec)
        if not decision.promoted:
            mlflow_client(settings).set_registered_model_alias(
                spec.registered_name, settings.models.champion_alias, report.version)
        champions[key] = {"version": report.version, "gate_promoted": decision.promoted,
                          "reasons": decision.reasons}
        console.print(f"{spec.registered_name} v{report.version}: "
                      f"{'promoted' if decision.promoted else 'refused by the gate, forced'}")
    return champions


def fleet_rows(settings: FitStreamSettings) -> list[dict[str, Any]]:
    """The fleet's UserFeatures rows as the processor produced them (the offline table's
    rows without its partition and timestamp columns)."""
    table = DeltaTable(settings.lakehouse_uri(USER_FEATURES),
                       storage_options=settings.lakehouse.object_store_options())
    rows = table.to_pyarrow_table().to_pylist()
    for row in rows:
        row.pop("event_timestamp", None)
        row.pop("as_of_date", None)
    return sorted(rows, key=lambda r: (r["as_of"], r["user_id"]))


def as_users(rows: list[dict[str, Any]], count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` rows, the fleet's cycled, each with a user of its own."""
    return [{**rows[i % len(rows)], "user_id": f"{prefix}-{i:05d}"} for i in range(count)]


def produce(settings: FitStreamSettings, serde: AvroSerde, topic: str,
            rows: list[dict[str, Any]]) -> None:
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 5}))
    for row in rows:
        while True:
            try:
                producer.produce(topic, key=row["user_id"].encode(),
                                 value=serde.encode(subjects.USER_FEATURES, row))
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0, "the pre-fill was not delivered"


def percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1)


def scoring_settings(base: FitStreamSettings, run: str, *topics: str) -> FitStreamSettings:
    """The base settings (the same registry, Feast and lakehouse) with the run's own
    ``topics`` and consumer groups."""
    kafka = base.kafka.model_copy(update={
        field: f"bench.{run}.{getattr(base.kafka, field)}" for field in topics})
    settings = base.model_copy(update={
        "kafka": kafka,
        "models": base.models.model_copy(update={"score_group_id": f"bench-{run}-scorer"}),
        "sink": base.sink.model_copy(update={"group_id": f"bench-{run}-sink"}),
        "feast": base.feast.model_copy(update={"group_id": f"bench-{run}-online"})})
    create_topics(settings)
    return settings


def throughput_run(base: FitStreamSettings, run: str, console: Console) -> dict[str, Any]:
    settings = scoring_settings(base, run, *PREDICTION_TOPICS)
    scorer = Scorer(settings)
    scorer.champions.refresh()  # loaded before the clock: a running scorer has them
    runner = scorer_runner(settings, scorer)
    threads = RunnerThreads([runner])
    cpu = CpuWindow({"broker": broker_pid(base), "scorer": os.getpid()})
    started = time.monotonic()
    threads.start()
    try:
        while runner.records_written < ROWS:
            if not threads.all_alive():
                raise RuntimeError("the scorer stopped")
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        shares = cpu.shares()
    finally:
        threads.stop()
    result = {"seconds": round(elapsed, 2), "predictions": scorer.predictions,
              "dead_letters": scorer.dead_letters, "cpu": shares,
              "load_1m": round(os.getloadavg()[0], 2)}
    console.print(f"{run}: {ROWS:,} rows in {elapsed:.2f} s, {scorer.predictions:,} "
                  f"predictions, {scorer.dead_letters} dead letters, cpu {shares}")
    assert scorer.predictions == ROWS * len(MODELS), result
    return result


class StoredWatcher(threading.Thread):
    """Polls ClickHouse for the probe users that have all three predictions stored (one
    cheap query per table and poll, not per user: the harness must not load the store
    it measures); the latency is from a row's acknowledgement to the first poll that
    finds its user in all three tables."""

    def __init__(self, store: Any, prefix: str) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.prefix = prefix
        self.pending: dict[str, float] = {}
        self.latencies: dict[str, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, user: str, acked_at: float) -> None:
        with self.lock:
            self.pending[user] = acked_at

    def stored(self) -> set[str]:
        found = None
        for table in (FORECASTS, RACE_PREDICTIONS, RECOMMENDATIONS):
            users = {row["user_id"] for row in self.store.query(
                f"SELECT DISTINCT user_id FROM {self.store.database}.{table} "
                "WHERE startsWith(user_id, %(p)s)", {"p": self.prefix})}
            found = users if found is None else found & users
        return found or set()

    def run(self) -> None:
        while not self.done.is_set():
            with self.lock:
                waiting = bool(self.pending)
            if waiting:
                stored, now = self.stored(), time.monotonic()
                with self.lock:
                    for user in stored & self.pending.keys():
                        self.latencies[user] = now - self.pending.pop(user)
            time.sleep(0.02)


def latency_run(base: FitStreamSettings, serde: AvroSerde, rows: list[dict[str, Any]],
                console: Console) -> dict[str, Any]:
    settings = scoring_settings(base, "latency", "features_topic", *PREDICTION_TOPICS)
    settings = settings.model_copy(update={"clickhouse": ClickHouseSettings(
        backend="chdb", chdb_path=base.state_dir / "latency-chdb")})
    store = open_store(settings)
    apply_ddl(store)
    scorer = Scorer(settings)
    runners = [online_runner(settings, OnlineFeatureSink(settings)),
               scorer_runner(settings, scorer),
               *(view_runner(settings, ClickHouseTopicSink(settings, store, serde, view))
                 for view in prediction_tables(settings))]
    threads = RunnerThreads(runners)
    threads.start()
    watcher = StoredWatcher(store, "latency-")
    watcher.start()
    probes = as_users(rows, PROBE_RATE * (PROBE_S + WARMUP_S), "latency")
    producer = Producer(producer_config(settings.kafka, **{"linger.ms": 0}))
    try:
        time.sleep(5)  # the consumers join their groups before the first probe
        cpu = CpuWindow({"broker": broker_pid(base), "scoring+sinks": os.getpid()})
        started = time.monotonic()
        warm = set()
        for i, row in enumerate(probes):
            due = started + i / PROBE_RATE
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            producer.produce(settings.kafka.features_topic, key=row["user_id"].encode(),
                             value=serde.encode(subjects.USER_FEATURES, row))
            producer.flush(5)
            watcher.add(row["user_id"], time.monotonic())
            if i < PROBE_RATE * WARMUP_S:
                warm.add(row["user_id"])
        deadline = time.monotonic() + 60
        while watcher.pending and time.monotonic() < deadline and threads.all_alive():
            time.sleep(0.1)
        shares = cpu.shares()
        missing = len(watcher.pending)
    finally:
        watcher.done.set()
        watcher.join(10)
        threads.stop()
        store.close()
    timed = [watcher.latencies[r["user_id"]] for r in probes
             if r["user_id"] in watcher.latencies and r["user_id"] not in warm]
    half = len(timed) // 2
    # The scorer's own figure (record time -> predictions flushed), in scoring order.
    scorer_s = list(scorer.latencies_s)[len(warm):]
    result = {"probes": len(timed), "missing": missing, "rate_per_s": PROBE_RATE,
              "p50_ms": percentile_ms(timed, 50), "p99_ms": percentile_ms(timed, 99),
              "max_ms": round(max(timed) * 1000, 1),
              # Steady or queueing: the first and second half of the probes, in order.
              "p50_halves_ms": [percentile_ms(timed[:half], 50), percentile_ms(timed[half:], 50)],
              "scorer_p50_ms": percentile_ms(scorer_s, 50),
              "scorer_p99_ms": percentile_ms(scorer_s, 99),
              "dead_letters": scorer.dead_letters, "cpu": shares,
              "load_1m": round(os.getloadavg()[0], 2)}
    console.print(f"latency: {result}")
    return result


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    code = code_version()
    with bench_broker("scoring") as base:
        fleet = build_fleet_lakehouse(base, FLEET_USERS, FLEET_DAYS, FLEET_SEED)
        console.print(f"fleet {FLEET_USERS}x{FLEET_DAYS}: {fleet['tables']}")
        champions = train_champions(base, console)
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        rows = fleet_rows(base)
        bench_rows = as_users(rows, ROWS, "bench")
        feast = feature_store(base)
        frame = online_frame(bench_rows)
        for start in range(0, len(frame), PUSH_CHUNK):
            feast.push(PUSH_SOURCE, frame.iloc[start:start + PUSH_CHUNK], to=PushMode.ONLINE)
        produce(base, serde, base.kafka.features_topic, bench_rows)
        console.print(f"pre-filled {ROWS:,} feature rows ({len(rows):,} fleet rows cycled), "
                      "their users online")
        runs = [throughput_run(base, f"run{attempt}", console) for attempt in range(repeats)]
        latency = latency_run(base, serde, rows, console)
    median = statistics.median(r["seconds"] for r in runs)
    return {
        "code": code,
        "benchmark": "scoring (3 champions: forecast, race time, recommender)",
        "fleet": {"users": FLEET_USERS, "days": FLEET_DAYS, "seed": FLEET_SEED,
                  "tables": fleet["tables"]},
        "champions": champions,
        "rows": ROWS, "median_seconds": median,
        "rows_per_s": round(ROWS / median),
        "predictions_per_s": round(ROWS * len(MODELS) / median),
        "runs": runs,
        "latency": latency,
    }
