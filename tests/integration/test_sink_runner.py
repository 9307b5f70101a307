"""The sink runner's contract on the real (embedded) broker: a failed write is read again
from the batch's first offsets and nothing is lost; offsets are committed only behind
written batches; SinkStopped ends the run without committing its batch; a sink's resume
positions decide where an assigned partition starts."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import Producer

from fitstream.kafka.clients import producer_config
from fitstream.kafka.positions import LogPosition
from fitstream.kafka.sink_runner import RunnerConfig, SinkRunner, SinkStopped
from tests.conftest import isolated
from tests.harness import wait_until

RECORDS = 40


class Recorder:
    """Keeps what it was given; fails its first ``failures`` writes with ``error``."""

    name = "recorder"

    def __init__(self, topic: str, failures: int = 0, error: type[Exception] = RuntimeError,
                 resume: int | None = None) -> None:
        self.topics = [topic]
        self.failures, self.error = failures, error
        self.written: list[tuple[int, int]] = []
        self.failed = 0
        if resume is not None:
            self.resume_at = lambda topic, partition: resume

    def write(self, batch: list[Any]) -> None:
        if self.failed < self.failures:
            self.failed += 1
            raise self.error("the store is away")
        self.written += [(m.partition(), m.offset()) for m in batch]


def produce(settings: Any, keys: int) -> dict[int, int]:
    producer = Producer(producer_config(settings.kafka))
    for i in range(RECORDS):
        producer.produce(settings.kafka.features_topic, key=f"user-{i % keys}".encode(),
                         value=str(i).encode())
    assert producer.flush(30) == 0
    position = LogPosition(settings.kafka)
    try:
        return {p: end for p, end in position.ends(settings.kafka.features_topic).items() if end}
    finally:
        position.close()


def runner(settings: Any, sink: Recorder, group: str) -> SinkRunner:
    return SinkRunner(sink, settings.kafka, RunnerConfig(
        group_id=group, batch_max_rows=1_000, batch_max_wait_s=0.2, commit_interval_s=0,
        retry_backoff_s=0.1, retry_backoff_max_s=0.2))


def committed(settings: Any, group: str) -> dict[int, int]:
    position = LogPosition(settings.kafka)
    try:
        return {p: o for p, o in position.committed(settings.kafka.features_topic,
                                                    group).items() if o}
    finally:
        position.close()


def test_failed_writes_are_read_again_and_commits_follow_written_batches(broker, tmp_path):
    settings = isolated(broker, tmp_path, "sink-runner-retry")
    ends = produce(settings, keys=7)
    sink = Recorder(settings.kafka.features_topic, failures=2)
    run = runner(settings, sink, "runner-retry")
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(set(sink.written)) == RECORDS, "every record written",
                   progress=lambda: len(sink.written), alive=thread.is_alive)
        # The commit follows the write on the runner's thread: "written" says nothing of
        # it yet, and join(30) below can return before a slow commit on a loaded broker.
        wait_until(lambda: committed(settings, "runner-retry") == ends,
                   "the written batches' offsets committed",
                   progress=lambda: committed(settings, "runner-retry"), alive=thread.is_alive)
    finally:
        run.stop()
        thread.join(30)
    assert sink.failed == 2
    assert set(sink.written) == {(p, o) for p, end in ends.items() for o in range(end)}
    assert committed(settings, "runner-retry") == ends


def test_a_stopped_write_ends_the_run_and_commits_nothing_of_its_batch(broker, tmp_path):
    settings = isolated(broker, tmp_path, "sink-runner-stopped")
    produce(settings, keys=3)
    sink = Recorder(settings.kafka.features_topic, failures=1, error=SinkStopped)
    run = runner(settings, sink, "runner-stopped")
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    # On progress, not a fixed 60 s: joining the group is slow on a loaded machine.
    wait_until(lambda: not thread.is_alive(), "the run to end on SinkStopped",
               progress=lambda: sink.failed)
    assert not thread.is_alive() and sink.failed == 1 and sink.written == []
    assert committed(settings, "runner-stopped") == {}


def test_resume_positions_decide_where_a_partition_starts(broker, tmp_path):
    settings = isolated(broker, tmp_path, "sink-runner-resume")
    ends = produce(settings, keys=1)  # one user: one partition
    (partition, end), = ends.items()
    sink = Recorder(settings.kafka.features_topic, resume=10)
    run = runner(settings, sink, "runner-resume")
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(sink.written) >= end - 10, "the records after 10 written",
                   progress=lambda: len(sink.written), alive=thread.is_alive)
    finally:
        run.stop()
        thread.join(30)
    assert sink.written == [(partition, o) for o in range(10, end)]
