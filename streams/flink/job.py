"""The Flink processor (PyFlink 2.0.2, run with .venv-flink/bin/python): the same
pipeline core as the Faust processor, keyed state in Flink, outputs through one
transactional Kafka sink.

Shape (measured choices in /work/helpers/flink-findings.md):

- **Source**: a Kafka SQL table on the events topic with ``key.format=raw`` and
  ``value.format=raw`` plus the partition, offset and timestamp metadata, turned into a
  DataStream with ``to_data_stream``: PyFlink 2.0's ``KafkaSource`` only has value
  deserializers, and the core needs the record's partition, offset and Kafka time.
- **Events stage**: keyed by the record key (the user id, as ingest and the simulator
  write it; Faust relies on the same co-partitioning), a ``KeyedProcessFunction`` holds
  the user's state in one ``MapState[str, bytes]`` per store of the core and calls
  :class:`streams.flink.stages.UserStage`.
- **Boards stage**: board completions (a side output) keyed by board, the same way.
- **Sink**: one Kafka SQL table whose ``topic`` and ``headers`` are writable metadata
  (flink-connector-kafka 4.0.1), so every output topic and the dead letters go through
  one transactional producer per subtask (``sink.delivery-guarantee=exactly-once``):
  consumers reading ``read_committed`` see a checkpoint's records or none.

``python -m streams.flink.job [--bounded] [--restore PATH]``: ``--bounded`` stops at
the end offsets the topic has at start (tests, replays), ``--restore`` resumes from a
checkpoint directory (``.../chk-N``). Settings come from the FITSTREAM_* environment,
which the Python workers inherit too; ``FLINK_*`` variables below tune the runtime.
"""

from __future__ import annotations

import argparse
import os
import site
import sys
import time

from pyflink.common import Configuration, Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from fitstream.kafka.topics import BOARD_OUTPUTS, OUTPUTS
from fitstream.settings import FitStreamSettings, get_settings
from streams.flink.functions import (
    BOARD_COMPLETIONS,
    OUT_TYPE,
    BoardFunction,
    UserFunction,
    board_of,
    user_of,
)


def flink_configuration(settings: FitStreamSettings, restore: str | None) -> Configuration:
    config = Configuration()
    # Python workers run `python` from PATH unless told: this venv's interpreter.
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    mode = os.environ.get("FLINK_MODE", "process")
    config.set_string("python.execution-mode", mode)
    if mode == "thread":
        # Thread mode runs Python inside the JVM (pemja), which starts from the base
        # interpreter's sys.path, not the venv's: every function failed with
        # "No module named 'pemja'". Untested fix: the venv's site-packages on its path.
        config.set_string("python.pythonpath", os.pathsep.join(site.getsitepackages()))
    # With checkpointing on, Flink 2.0 restarts a failed job forever (exponential delay),
    # so a broken job hangs its caller instead of failing: a few attempts, then fail.
    config.set_string("restart-strategy.type", "fixed-delay")
    config.set_string("restart-strategy.fixed-delay.attempts",
                      os.environ.get("FLINK_RESTART_ATTEMPTS", "3"))
    config.set_string("restart-strategy.fixed-delay.delay", "2 s")
    checkpoints = os.environ.get("FLINK_CHECKPOINT_DIR") or str(
        settings.state_dir / "flink" / "checkpoints")
    config.set_string("execution.checkpointing.interval",
                      os.environ.get("FLINK_CHECKPOINT_INTERVAL", "5 s"))
    config.set_string("execution.checkpointing.dir", "file://" + os.path.abspath(checkpoints))
    config.set_string("execution.checkpointing.externalized-checkpoint-retention",
                      "RETAIN_ON_CANCELLATION")
    config.set_string("state.backend.type", os.environ.get("FLINK_STATE_BACKEND", "hashmap"))
    if restore:
        config.set_string("execution.state-recovery.path", "file://" + os.path.abspath(restore))
    for name, value in (("python.fn-execution.bundle.size", "FLINK_BUNDLE_SIZE"),
                        ("python.fn-execution.bundle.time", "FLINK_BUNDLE_TIME_MS")):
        if os.environ.get(value):
            config.set_string(name, os.environ[value])
    return config


def build(settings: FitStreamSettings, bounded: bool, restore: str | None,
          ) -> StreamTableEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(
        flink_configuration(settings, restore))
    env.set_parallelism(int(os.environ.get("FLINK_PARALLELISM", "1")))
    t_env = StreamTableEnvironment.create(env)
    kafka = settings.kafka
    app_id = f"{settings.processor.app_id}-flink"
    bounded_mode = "'scan.bounded.mode' = 'latest-offset'," if bounded else ""
    t_env.execute_sql(f"""
        CREATE TEMPORARY TABLE events (
          k BYTES,
          v BYTES,
          `partition` INT METADATA VIRTUAL,
          `offset` BIGINT METADATA VIRTUAL,
          ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL
        ) WITH (
          'connector' = 'kafka',
          'topic' = '{kafka.events_topic}',
          'properties.bootstrap.servers' = '{kafka.bootstrap_servers}',
          'properties.group.id' = '{app_id}',
          'properties.isolation.level' = 'read_committed',
          'scan.startup.mode' = 'earliest-offset',
          {bounded_mode}
          'key.format' = 'raw',
          'key.fields' = 'k',
          'value.format' = 'raw',
          'value.fields-include' = 'EXCEPT_KEY'
        )""")
    guarantee = os.environ.get("FLINK_DELIVERY", "exactly-once")
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
          'sink.delivery-guarantee' = '{guarantee}',
          'sink.transactional-id-prefix' = '{app_id}',
          'properties.transaction.timeout.ms' =
            '{os.environ.get("FLINK_TRANSACTION_TIMEOUT_MS", "600000")}'
        )""")
    events = t_env.to_data_stream(t_env.from_path("events"))
    by_user = events.key_by(user_of, key_type=Types.STRING())
    outputs = by_user.process(UserFunction(), output_type=OUT_TYPE).name("workout-sessions")
    boards = (outputs.get_side_output(BOARD_COMPLETIONS)
              .key_by(board_of, key_type=Types.STRING())
              .process(BoardFunction(), output_type=OUT_TYPE).name("weekly-boards"))
    t_env.create_temporary_view("records", t_env.from_data_stream(outputs.union(boards)))
    return t_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounded", action="store_true")
    parser.add_argument("--restore")
    args = parser.parse_args()
    settings = get_settings()
    started = time.monotonic()
    t_env = build(settings, args.bounded, args.restore)
    result = t_env.execute_sql("INSERT INTO outputs SELECT * FROM records")
    print(f"flink job submitted in {time.monotonic() - started:.1f} s", flush=True)
    result.wait()
    print(f"flink job finished in {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
