"""The lakehouse against the real broker, processor and Delta tables: the sinks, killed
with SIGKILL after Delta commits and before any Kafka offset commit, write nothing twice
and lose nothing; the Spark backfill rebuilds silver and gold from bronze equal to
what the stream wrote; and what Feast served online during the stream is what a
point-in-time lookup in the offline store returns afterwards (no training/serving skew)."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable, write_deltalake
from pydantic import SecretStr

from cli.dev.local_stack import LocalStack
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.daily_totals import user_daily_rows
from fitstream.kafka.positions import LogPosition, behind
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from fitstream.simulator.producer import produce_fleet
from sinks.delta.topic_sink import lakehouse_writers, records_behind
from stores.delta.tables import (
    BRONZE_DEAD_LETTERS,
    BRONZE_EVENTS,
    GOLD_USER_DAILY,
    SILVER_WORKOUTS,
    USER_FEATURES,
)
from tests.conftest import isolated
from tests.harness import REQUIRE_S3_SERVER, LocalS3, wait_until
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

SPEC = FleetSpec(users=10, days=10, seed=21, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.03, out_of_order=0.03, late=0.1, malformed=0.01))


RATE = 400  # records/s: a stream of about 20 s, committed in many small batches


def version(settings, table: str) -> int | None:
    """The table's Delta version, None before its first commit."""
    uri = settings.lakehouse_uri(table)
    return DeltaTable(uri).version() if DeltaTable.is_deltatable(uri) else None


def rows(settings, table: str) -> list[dict]:
    uri = settings.lakehouse_uri(table)
    return DeltaTable(uri).to_pyarrow_table().to_pylist() if DeltaTable.is_deltatable(uri) \
        else []


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    """A fleet streamed into the lakehouse, its sinks killed once mid-stream."""
    from tests.conftest import running_broker

    with running_broker(tmp_path_factory.mktemp("lake-broker")) as broker:
        yield stream_with_a_kill(broker, tmp_path_factory.mktemp("lake"))


class OnlineSampler:
    """Reads users' online feature vectors from Feast while the stream runs."""

    def __init__(self, settings) -> None:
        from feature_repo.definitions import FEATURE_VIEW
        from fitstream.domain.features import FLAT_FEATURE_NAMES
        from stores.feast.store import feature_store

        self.features = [f"{FEATURE_VIEW}:{n}" for n in ("as_of", *FLAT_FEATURE_NAMES)]
        self.store = feature_store(settings)
        self.samples: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        users = [f"user-{i:05d}" for i in range(SPEC.users)]
        while not self.stop.wait(0.1):
            vector = self.store.get_online_features(
                features=self.features, entity_rows=[{"user_id": u} for u in users]).to_dict()
            for index in range(len(users)):
                sample = {name: values[index] for name, values in vector.items()}
                if sample["as_of"] is not None and sample not in self.samples[-50:]:
                    self.samples.append(sample)


def stream_with_a_kill(broker, tmp_path):
    settings = isolated(broker, tmp_path, "lake")
    settings = settings.model_copy(update={"lakehouse": settings.lakehouse.model_copy(update={
        "batch_max_rows": 2000, "batch_max_wait_s": 0.5,
        # Kafka offsets are never committed during the run: every kill lands after
        # Delta commits and before the offset commit.
        "offset_commit_interval_s": 3600})})
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    stack = LocalStack()
    stack.start(settings, "processor", "process")
    lake = stack.start(settings, "lakehouse-0", "lakehouse")
    from stores.feast.store import apply_definitions

    apply_definitions(settings)
    sampler = OnlineSampler(settings)
    sampler.thread.start()
    produced = {}
    producer = threading.Thread(target=lambda: produced.setdefault(
        "tally", produce_fleet(settings, SPEC, serde, rate=RATE)))
    try:
        # The stream lasts seconds and the kill must land inside it: start it only once
        # the bronze sink has its partitions (a loaded machine starts the role slowly).
        wait_until(lambda: any("sink_assigned" in line and "bronze-events" in line
                               for line in lake.log_tail(200).splitlines()),
                   "the lakehouse's bronze sink to be assigned its partitions",
                   progress=lambda: lake.log_tail(3), alive=lake.check)
        producer.start()
        # Version 0 creates the table: from 3 on, two batches are committed in Delta and
        # none in Kafka (a loaded machine's sink writes few, large batches).
        wait_until(lambda: (version(settings, BRONZE_EVENTS) or 0) >= 3,
                   "the lakehouse sink's 2nd bronze commit",
                   progress=lambda: (version(settings, BRONZE_EVENTS), lake.log_tail(3)),
                   alive=lake.check)
        lake.signal(signal.SIGKILL)
        lake.proc.wait(10)
        # The kill must land before the sink wrote the whole stream; on a loaded machine
        # the producer (a rate-capped 15 s) can finish first while the sink lags.
        written = len(rows(settings, BRONZE_EVENTS))
        decodable = sum(1 for r in simulate_fleet(SPEC) if r.event is not None)
        assert producer.is_alive() or written < decodable, (
            f"the kill should land mid-stream: {written} of {decodable} events in bronze")
        lake = stack.start(settings, "lakehouse-1", "lakehouse")
        wait_until(lambda: not producer.is_alive(), "the fleet producer to finish",
                   progress=lambda: version(settings, BRONZE_EVENTS), alive=lake.check)
        sampler.stop.set()
        sampler.thread.join(10)

        log = read_topic(settings, settings.kafka.events_topic)
        expected = set()
        for message in log:
            try:
                serde.decode(message.value())
            except ValueError:
                continue
            expected.add((message.partition(), message.offset()))
        seen: dict = {}
        position = LogPosition(settings.kafka)
        writers = lakehouse_writers(settings)

        def lake_caught_up() -> bool:
            # Every table the tests read, not only the two compared here: the processor
            # has committed the whole log (so the DLQ and summaries are final), then each
            # Delta writer's transaction version holds its topic's end.
            processor_lag = sum(behind(position, settings.kafka.events_topic,
                                       settings.processor.app_id, []).values())
            seen["lag"] = (processor_lag,
                           0 if processor_lag else records_behind(writers, position.ends))
            if any(seen["lag"]):
                return False
            positions = [(r["kafka_partition"], r["kafka_offset"]) for r in rows(settings,
                                                                                 BRONZE_EVENTS)]
            summaries = {}
            for message in read_topic(settings, settings.kafka.summaries_topic):
                summary = serde.decode(message.value())[1]
                known = summaries.get(summary["workout_id"])
                if known is None or summary["last_seq"] > known["last_seq"]:
                    summaries[summary["workout_id"]] = summary
            silver = {r["workout_id"]: r for r in rows(settings, SILVER_WORKOUTS)}
            seen.update(positions=positions, summaries=summaries, silver=silver)
            return set(positions) >= expected and {
                w: s["last_seq"] for w, s in silver.items()} == {
                w: s["last_seq"] for w, s in summaries.items()}

        wait_until(lake_caught_up, f"bronze to hold all {len(expected)} valid events and "
                   "silver every workout's last summary",
                   progress=lambda: (seen.get("lag"),
                                     len(set(seen.get("positions", ())) & expected),
                                     len(seen.get("silver", ())),
                                     version(settings, SILVER_WORKOUTS)),
                   alive=lake.check, poll_s=1)
        positions, summaries, silver = seen["positions"], seen["summaries"], seen["silver"]
        position.close()
    finally:
        sampler.stop.set()
        stack.stop()
    return (settings, serde, produced["tally"], positions, expected, summaries, silver,
            sampler.samples)


def test_a_killed_lakehouse_sink_writes_nothing_twice(streamed):
    settings, _, tally, positions, expected, summaries, silver, _ = streamed
    duplicates = [p for p, n in Counter(positions).items() if n > 1]
    assert duplicates == []
    assert set(positions) == expected
    assert len(positions) == tally.records - tally.malformed
    assert {w: s["status"] for w, s in silver.items()} == {
        w: s["status"] for w, s in summaries.items()}
    gold = sorted(rows(settings, GOLD_USER_DAILY), key=lambda r: (r["user_id"], r["day"],
                                                                   r["sport"]))
    assert gold == user_daily_rows(silver.values())
    assert sum(r["workouts"] for r in gold) == sum(
        s["status"] == "completed" for s in summaries.values()) > 10
    dead = rows(settings, BRONZE_DEAD_LETTERS)
    dlq = read_topic(settings, settings.kafka.dlq_topic)
    assert sorted((r["kafka_partition"], r["kafka_offset"]) for r in dead) == sorted(
        (m.partition(), m.offset()) for m in dlq)
    assert Counter(r["reason"] for r in dead)["malformed"] == tally.malformed


@pytest.fixture(scope="module")
def spark(streamed):
    """One local[2] session for the module's Spark jobs (the JVM starts once)."""
    from jobs.spark import spark_session

    session = spark_session(streamed[0], "test-lakehouse-jobs")
    yield session
    session.stop()


def test_the_spark_backfill_rebuilds_silver_and_gold_equal_to_the_stream(streamed, spark):
    from jobs.backfill import GOLD_BACKFILL, SILVER_BACKFILL, run_backfill
    settings, *_ = streamed
    report = run_backfill(settings, spark)
    assert report["bronze_events"] == len(rows(settings, BRONZE_EVENTS))
    assert report["silver"] == {"streamed": len(rows(settings, SILVER_WORKOUTS)),
                                "backfilled": len(rows(settings, SILVER_BACKFILL)),
                                "equal": True, "differing_keys": []}
    assert report["gold"]["equal"] and report["gold"]["backfilled"] > 10
    # The same pure feature code, replayed in log order: the same rows, times included.
    assert report["features"]["equal"] and report["features"]["backfilled"] > 10
    # One Delta commit each, readable by any Delta reader.
    assert DeltaTable(settings.lakehouse_uri(SILVER_BACKFILL)).version() == 0
    assert len(rows(settings, GOLD_BACKFILL)) == report["gold"]["streamed"]


def test_online_features_served_during_the_stream_equal_the_point_in_time_lookup(streamed):
    """For each (user, as_of) Feast served online mid-stream, get_historical_features at
    as_of and just before the next possible row (as_of + 999 ms) return the same values;
    a millisecond before as_of it returns an earlier row (or none): no future leaks in."""
    import pandas as pd

    from stores.feast.store import feature_store

    settings, *_, samples = streamed
    # Enough served vectors to compare; how many the sampler sees depends on how the
    # online sink batches its pushes (CI has seen 9 distinct on a busy run).
    assert len({(s["user_id"], s["as_of"]) for s in samples}) >= 5, len(samples)
    entities = pd.DataFrame(
        [{"user_id": s["user_id"], "event_timestamp": pd.Timestamp(s["as_of"] + lag, unit="ms",
                                                                   tz="UTC"), "sample": i}
         for i, s in enumerate(samples) for lag in (-1, 0, 999)])
    store = feature_store(settings)
    features = [f"user_features:{name}" for name in samples[0] if name != "user_id"]
    historical = store.get_historical_features(entity_df=entities, features=features).to_df()
    assert len(historical) == len(entities)
    assert historical["as_of"].notna().sum() > len(samples) * 2  # not all lookups came back empty
    for row in historical.to_dict("records"):
        served = samples[row["sample"]]
        if row["event_timestamp"].value // 1_000_000 < served["as_of"]:
            assert pd.isna(row["as_of"]) or row["as_of"] < served["as_of"], row
            continue
        offline = {name: (None if isinstance(row[name], float) and row[name] != row[name]
                          else row[name]) for name in served if name != "user_id"}
        assert offline == {k: v for k, v in served.items() if k != "user_id"}, row


def test_the_training_set_joins_each_snapshot_with_the_features_known_then(streamed, spark):
    """Every row: the user's latest streamed feature row at or before the snapshot, and
    the metres of the 7 days after it, as the pure functions compute them."""
    from fitstream.domain.features import FLAT_FEATURE_NAMES, next_days_distance_m, snapshot_days
    from jobs.training_set import LABEL, build_training_set
    from stores.delta.tables import TRAINING_SET

    settings, *_ = streamed
    report = build_training_set(settings, spark)
    features = rows(settings, USER_FEATURES)
    workouts = rows(settings, SILVER_WORKOUTS)
    data_end = max(w["end_time"] for w in workouts if w["status"] == "completed")
    expected = {}
    for user in {f["user_id"] for f in features}:
        mine = sorted((f for f in features if f["user_id"] == user), key=lambda f: f["as_of"])
        for day in snapshot_days(mine[0]["as_of"], data_end):
            at = day * 86_400_000
            known = [f for f in mine if f["as_of"] <= at][-1]
            expected[(user, at)] = {
                "feature_as_of": known["as_of"], **{n: known[n] for n in FLAT_FEATURE_NAMES},
                LABEL: next_days_distance_m([w for w in workouts if w["user_id"] == user], at)}
    training = {(r["user_id"], r["snapshot_at"]): r for r in rows(settings, TRAINING_SET)}
    assert set(training) == set(expected) and report["rows"] == len(expected) >= 5
    for key, want in expected.items():
        assert {k: training[key][k] for k in want} == want, key


@pytest.fixture(scope="module")
def local_s3(tmp_path_factory):
    if not LocalS3.available():
        message = f"no local S3 server at {LocalS3.SERVER} (make s3-server installs it)"
        if REQUIRE_S3_SERVER:  # CI forbids skipping
            pytest.fail(message)
        pytest.skip(message)
    server = LocalS3(tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.stop()


def test_the_jobs_run_on_an_s3_lakehouse(streamed, spark, local_s3):
    """The production lakehouse is on S3 (MinIO): the stream's tables copied into a bucket
    of a local S3, the backfill, the training set and the erase run there, read and write
    only s3:// and give what they give on a local lakehouse."""
    from jobs.backfill import GOLD_BACKFILL, SILVER_BACKFILL, run_backfill
    from jobs.training_set import build_training_set
    from stores.delta.tables import PARTITIONS, TRAINING_SET
    from stores.erasure import erase_from_delta

    settings, *_ = streamed
    bucket = local_s3.create_bucket("fitstream-lakehouse")
    on_s3 = settings.model_copy(update={"lakehouse": settings.lakehouse.model_copy(update={
        "root": f"s3://{bucket}", "storage_options": local_s3.storage_options(),
        "access_key_id": SecretStr(local_s3.ACCESS_KEY_ID),
        "secret_access_key": SecretStr(local_s3.SECRET_ACCESS_KEY)})})
    options = on_s3.lakehouse.object_store_options()

    def s3_rows(table: str) -> list[dict]:
        return DeltaTable(on_s3.lakehouse_uri(table), storage_options=options
                          ).to_pyarrow_table().to_pylist()

    copied = (BRONZE_EVENTS, BRONZE_DEAD_LETTERS, SILVER_WORKOUTS, GOLD_USER_DAILY,
              USER_FEATURES)
    for table in copied:
        write_deltalake(on_s3.lakehouse_uri(table),
                        DeltaTable(settings.lakehouse_uri(table)).to_pyarrow_table(),
                        partition_by=PARTITIONS[table], storage_options=options)

    report = run_backfill(on_s3, spark)
    assert report["bronze_events"] == len(rows(settings, BRONZE_EVENTS))
    for part in ("silver", "gold", "features"):
        assert report[part]["equal"] and report[part]["backfilled"] > 10, (part, report[part])
    assert sorted(map(str, s3_rows(SILVER_BACKFILL))) == sorted(
        map(str, rows(settings, SILVER_WORKOUTS)))
    assert len(s3_rows(GOLD_BACKFILL)) == report["gold"]["streamed"]

    s3_report = build_training_set(on_s3, spark)
    local_report = build_training_set(settings, spark)
    assert s3_report["rows"] == local_report["rows"] >= 5
    key = lambda r: (r["user_id"], r["snapshot_at"])  # noqa: E731
    assert sorted(map(str, sorted(s3_rows(TRAINING_SET), key=key))) == sorted(
        map(str, sorted(rows(settings, TRAINING_SET), key=key)))

    user = "user-00005"
    mine = {t: sum(r["user_id"] == user for r in s3_rows(t))
            for t in (BRONZE_EVENTS, SILVER_WORKOUTS, GOLD_USER_DAILY, USER_FEATURES)}
    assert all(mine.values())
    deleted = erase_from_delta(on_s3, user)
    assert {t: deleted[t] for t in mine} == mine
    for table in copied:
        assert not [r for r in s3_rows(table)
                    if r.get("user_id") == user or r.get("key") == user.encode()], table


def test_compaction_leaves_fewer_files_and_the_same_rows(streamed):
    from jobs.compact import compact

    settings, *_ = streamed
    before = {t: sorted(map(str, rows(settings, t))) for t in (BRONZE_EVENTS, SILVER_WORKOUTS)}
    report = {r["table"]: r for r in compact(settings, retention_hours=0)}
    bronze = report[BRONZE_EVENTS]
    assert bronze["files_before"] > bronze["files_after"] >= 1
    assert bronze["rows"] == bronze["rows_after"] == len(before[BRONZE_EVENTS])
    assert bronze["files_vacuumed"] >= bronze["files_rewritten"] > 0
    for table, content in before.items():
        assert sorted(map(str, rows(settings, table))) == content


def test_gdpr_erase_leaves_no_row_of_the_user_in_any_delta_file(streamed):
    import pyarrow.parquet as pq

    from stores.erasure import erase_from_delta

    settings, *_ = streamed
    user = "user-00002"
    mine = {t: sum(r["user_id"] == user for r in rows(settings, t))
            for t in (BRONZE_EVENTS, SILVER_WORKOUTS, GOLD_USER_DAILY, USER_FEATURES)}
    dead = sum(r["key"] == user.encode() for r in rows(settings, BRONZE_DEAD_LETTERS))
    assert all(mine.values()) and dead
    deleted = erase_from_delta(settings, user)
    assert {t: deleted[t] for t in mine} == mine
    assert deleted[BRONZE_DEAD_LETTERS] == dead
    # Not only the current version: every file left in storage is free of the user.
    for path in Path(settings.lakehouse_root).rglob("*.parquet"):
        table = pq.read_table(path)
        if "user_id" in table.column_names:
            assert user not in table.column("user_id").to_pylist(), path
        if "key" in table.column_names:
            assert user.encode() not in table.column("key").to_pylist(), path


def test_gdpr_erase_empties_the_users_feast_online_row(streamed):
    from stores.erasure import erase_from_feast
    from stores.feast.store import feature_store

    settings, *_ = streamed
    store = feature_store(settings)

    def online(user: str) -> dict:
        return store.get_online_features(features=["user_features:as_of",
                                                   "user_features:distance_28d_m"],
                                         entity_rows=[{"user_id": user}]).to_dict()

    assert online("user-00003")["as_of"][0] is not None
    assert erase_from_feast(settings, "user-00003") == {"user_features": 1}
    assert online("user-00003") == {"user_id": ["user-00003"], "as_of": [None],
                                    "distance_28d_m": [None]}
    assert online("user-00004")["as_of"][0] is not None
