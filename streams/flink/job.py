"""The Flink processor (PyFlink 2.0.2, run with the Flink venv's interpreter by
``fitstream process --engine flink``): the same pipeline core as the Faust processor,
keyed state in Flink, outputs through one transactional Kafka sink.

Shape (measured choices and traps: docs/flink-findings.md):

- **Sources**: Kafka SQL tables on the events topic and on the erasure topic with
  ``key.format=raw`` and ``value.format=raw`` plus the partition, offset and timestamp
  metadata, turned into DataStreams with ``to_data_stream``: PyFlink 2.0's
  ``KafkaSource`` only has value deserializers, and the core needs the record's
  partition, offset and Kafka time.
- **Events stage**: both keyed by the record key (the user id, as ingest, the simulator
  and the erase job write it; Faust relies on the same co-partitioning), a
  ``KeyedCoProcessFunction`` holds the user's state in one ``MapState[str, str]`` per
  store of the core and calls :class:`streams.flink.stages.UserStage`.
- **Boards stage**: board completions (a side output) keyed by board, the same way.
- **Sink**: one Kafka SQL table whose ``topic`` and ``headers`` are writable metadata
  (flink-connector-kafka 4.0.1), so every output topic and the dead letters go through
  one transactional producer per subtask (``processor.flink.delivery``, exactly-once by
  default): consumers reading ``read_committed`` see a checkpoint's records or none.

Lifecycle: a start resumes from the newest retained checkpoint under
``processor.flink.checkpoint_dir`` (state and source offsets together), or reads the
log from offset 0 when there is none; ``--fresh`` ignores checkpoints, ``--restore``
names one. SIGINT/SIGTERM end the process, and with it the job's JVM (PyFlink's gateway
watchdog); the checkpoints are retained for the next start. ``--bounded`` stops at the
end offsets the topics have at start (tests, replays, benchmarks).
"""

from __future__ import annotations

import argparse
import os
import signal
import site
import sys
import time
from pathlib import Path

from pyflink.common import Configuration, Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment

from fitstream.kafka.topics import BOARD_OUTPUTS, OUTPUTS
from fitstream.settings import REPO_ROOT, FitStreamSettings, get_settings
from streams.flink.functions import (
    BOARD_COMPLETIONS,
    OUT_TYPE,
    BoardFunction,
    UserFunction,
    board_of,
    user_of,
)


def checkpoint_uri(settings: FitStreamSettings) -> str:
    """Where checkpoints go: a URI as configured, or a local directory as file://."""
    where = settings.processor.flink.checkpoint_dir
    return where if "://" in where else settings.resolve(Path(where)).absolute().as_uri()


def latest_checkpoint(settings: FitStreamSettings) -> Path | None:
    """The newest completed checkpoint (``<job-id>/chk-N`` with its ``_metadata``) under
    a local checkpoint directory; None when there is none (or it is not local)."""
    where = settings.processor.flink.checkpoint_dir
    if "://" in where and not where.startswith("file://"):
        return None
    root = Path(where.removeprefix("file://")) if "://" in where else settings.resolve(
        Path(where))
    done = [meta.parent for meta in root.glob("*/chk-*/_metadata")]
    return max(done, key=lambda chk: chk.stat().st_mtime_ns) if done else None


def flink_configuration(settings: FitStreamSettings, restore: Path | None) -> Configuration:
    flink = settings.processor.flink
    config = Configuration()
    # Python workers run `python` from PATH unless told: this venv's interpreter.
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    config.set_string("python.execution-mode", flink.execution_mode)
    if flink.execution_mode == "thread":
        # Thread mode runs Python inside the JVM (pemja), which starts from the base
        # interpreter's sys.path, not the venv's: every function failed with
        # "No module named 'pemja'" without the venv's site-packages on its path.
        config.set_string("python.pythonpath", os.pathsep.join(site.getsitepackages()))
    # With checkpointing on, Flink 2.0 restarts a failed job forever (exponential delay),
    # so a broken job hangs its caller instead of failing: a few attempts, then fail.
    config.set_string("restart-strategy.type", "fixed-delay")
    config.set_string("restart-strategy.fixed-delay.attempts", str(flink.restart_attempts))
    config.set_string("restart-strategy.fixed-delay.delay", "2 s")
    config.set_string("execution.checkpointing.interval",
                      f"{round(flink.checkpoint_interval_s * 1000)} ms")
    config.set_string("execution.checkpointing.dir", checkpoint_uri(settings))
    config.set_string("execution.checkpointing.externalized-checkpoint-retention",
                      "RETAIN_ON_CANCELLATION")
    config.set_string("state.backend.type", flink.state_backend)
    if restore is not None:
        config.set_string("execution.state-recovery.path", restore.absolute().as_uri())
    if flink.bundle_size is not None:
        config.set_string("python.fn-execution.bundle.size", str(flink.bundle_size))
    if flink.bundle_time_ms is not None:
        config.set_string("python.fn-execution.bundle.time", str(flink.bundle_time_ms))
    if settings.processor.web_enabled:
        # The Prometheus reporter (plugins/metrics-prometheus in the pyflink wheel) on the
        # port the Faust worker serves /metrics on.
        config.set_string("metrics.reporter.prom.factory.class",
                          "org.apache.flink.metrics.prometheus.PrometheusReporterFactory")
        config.set_string("metrics.reporter.prom.port", str(settings.processor.web_port))
    return config


def kafka_source(name: str, topic: str, settings: FitStreamSettings, bounded: bool) -> str:
    """A raw Kafka table: the record key, value, partition, offset and timestamp."""
    bounded_mode = "'scan.bounded.mode' = 'latest-offset'," if bounded else ""
    return f"""
        CREATE TEMPORARY TABLE {name} (
          k BYTES,
          v BYTES,
          `partition` INT METADATA VIRTUAL,
          `offset` BIGINT METADATA VIRTUAL,
          ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
        ) WITH (
          'connector' = 'kafka',
          'topic' = '{topic}',
          'properties.bootstrap.servers' = '{settings.kafka.bootstrap_servers}',
          'properties.group.id' = '{settings.processor.consumer_group}',
          'properties.isolation.level' = 'read_committed',
          'scan.startup.mode' = 'earliest-offset',
          {bounded_mode}
          'key.format' = 'raw',
          'key.fields' = 'k',
          'value.format' = 'raw',
          'value.fields-include' = 'EXCEPT_KEY'
        )"""


def execution_environment(config: Configuration, jobmanager: str) -> StreamExecutionEnvironment:
    """An embedded mini-cluster, or a session cluster's JobManager (``host:port``).

    PyFlink's ``get_execution_environment`` always builds a local environment (it forces
    ``execution.target=local``, so a configured remote target was ignored and the job ran
    in a mini-cluster inside the submitting container); a remote one comes from Java's
    ``createRemoteEnvironment``. No jars are shipped: the cluster's lib directory has
    flink-python and the Kafka connector (docker-compose.yml)."""
    if not jobmanager:
        return StreamExecutionEnvironment.get_execution_environment(config)
    host, _, port = jobmanager.rpartition(":")
    gateway = get_gateway()
    java_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment
    return StreamExecutionEnvironment(java_env.createRemoteEnvironment(
        host, int(port), config._j_configuration, gateway.new_array(gateway.jvm.String, 0)))


def build(settings: FitStreamSettings, bounded: bool, restore: Path | None,
          ) -> StreamTableEnvironment:
    flink = settings.processor.flink
    env = execution_environment(flink_configuration(settings, restore), flink.jobmanager)
    env.set_parallelism(flink.parallelism)
    t_env = StreamTableEnvironment.create(env)
    kafka = settings.kafka
    t_env.execute_sql(kafka_source("events", kafka.events_topic, settings, bounded))
    t_env.execute_sql(kafka_source("erasures", kafka.erasures_topic, settings, bounded))
    # The sink needs 'topic' even with a writable topic column: the list of every topic
    # a record may name (one outside it is refused).
    topics = ";".join(sorted({o.topic(kafka) for o in (*OUTPUTS, *BOARD_OUTPUTS)}
                             | {kafka.dlq_topic}))
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE outputs (
          `topic` STRING METADATA,
          k BYTES,
          v BYTES,
          `headers` MAP<STRING, BYTES> METADATA
        ) WITH (
          'connector' = 'kafka',
          'topic' = '{topics}',
          'properties.bootstrap.servers' = '{kafka.bootstrap_servers}',
          'key.format' = 'raw',
          'key.fields' = 'k',
          'value.format' = 'raw',
          'value.fields-include' = 'EXCEPT_KEY',
          'sink.delivery-guarantee' = '{flink.delivery}',
          'sink.transactional-id-prefix' = '{settings.processor.consumer_group}',
          'properties.transaction.timeout.ms' = '{flink.transaction_timeout_ms}'
        )""")
    events = t_env.to_data_stream(t_env.from_path("events"))
    erasures = t_env.to_data_stream(t_env.from_path("erasures"))
    outputs = (events.connect(erasures)
               .key_by(user_of, user_of, key_type=Types.STRING())
               .process(UserFunction(), output_type=OUT_TYPE).name("workout-sessions"))
    boards = (outputs.get_side_output(BOARD_COMPLETIONS)
              .key_by(board_of, key_type=Types.STRING())
              .process(BoardFunction(), output_type=OUT_TYPE).name("weekly-boards"))
    t_env.create_temporary_view("records", t_env.from_data_stream(outputs.union(boards)))
    return t_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounded", action="store_true",
                        help="stop at the end offsets the topics have at start")
    parser.add_argument("--restore", type=Path,
                        help="resume from this checkpoint (.../<job-id>/chk-N)")
    parser.add_argument("--fresh", action="store_true",
                        help="ignore retained checkpoints: read the log from offset 0")
    args = parser.parse_args()
    settings = get_settings()
    restore = args.restore or (None if args.fresh else latest_checkpoint(settings))
    started = time.monotonic()
    t_env = build(settings, args.bounded, restore)
    result = t_env.execute_sql("INSERT INTO outputs SELECT * FROM records")
    print(f"flink job submitted in {time.monotonic() - started:.1f} s"
          + (f", restored from {restore}" if restore else ", from offset 0"), flush=True)
    # SIGTERM (docker stop) ends the process as Ctrl-C does. In the embedded mini-cluster
    # the JVM goes with it; a job on a session cluster would run on without its client,
    # and the next start would submit a second job on the same topics: cancel it first
    # (its checkpoints are retained on cancellation, so the next start resumes).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result.wait()
    except KeyboardInterrupt:
        if settings.processor.flink.jobmanager:
            client = result.get_job_client()
            if client is not None:
                client.cancel().result()
        print(f"flink job stopped after {time.monotonic() - started:.1f} s; checkpoints "
              f"retained under {checkpoint_uri(settings)}", flush=True)
        return
    print(f"flink job finished in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    os.chdir(REPO_ROOT)  # relative settings paths mean the same as in the app venv
    main()
