"""Consumer lag after a rebalance (fitstream_consumer_lag_records): a sink that loses
partitions to another member of its group stops reporting them; their new owner
reports them, and a last value left behind would be summed twice and never fall."""

from __future__ import annotations

import threading

from confluent_kafka import Consumer

from fitstream.kafka.clients import consumer_config
from fitstream.kafka.sink_runner import RunnerConfig, SinkRunner
from fitstream.observability import metrics
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_sink_runner import Recorder, produce

GROUP = "lag-rebalance"


def reported(topic: str) -> set[int]:
    """Partitions of ``topic`` with a lag series of GROUP in this process."""
    return {int(sample.labels["partition"])
            for sample in metrics.CONSUMER_LAG.collect()[0].samples
            if sample.labels["group"] == GROUP and sample.labels["topic"] == topic}


def test_a_sink_stops_reporting_the_lag_of_partitions_it_lost(broker, tmp_path):
    settings = isolated(broker, tmp_path, "lag-rebalance")
    topic = settings.kafka.features_topic
    produce(settings, keys=7)
    run = SinkRunner(Recorder(topic), settings.kafka, RunnerConfig(
        group_id=GROUP, batch_max_rows=1_000, batch_max_wait_s=0.2, commit_interval_s=0,
        lag_interval_s=0.2))
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    other = None
    try:
        wait_until(lambda: len(reported(topic)) > 1, "the sink's lag of every partition",
                   progress=lambda: reported(topic), alive=thread.is_alive)
        everything = reported(topic)
        # A second member (a plain consumer: it reports no lag) takes some partitions.
        other = Consumer(consumer_config(settings.kafka, GROUP))
        other.subscribe([topic])
        taken: set[int] = set()

        def rebalanced() -> bool:
            other.poll(0.2)
            taken.clear()
            taken.update(tp.partition for tp in other.assignment())
            return bool(taken) and not (reported(topic) & taken)

        wait_until(rebalanced, "the lost partitions' lag series gone",
                   progress=lambda: (sorted(taken), sorted(reported(topic))),
                   alive=thread.is_alive)
        # The sink still reports what it kept.
        assert reported(topic) == everything - taken
    finally:
        if other is not None:
            other.close()
        run.stop()
        thread.join(30)
