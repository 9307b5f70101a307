"""Chaos: SIGKILL the Faust worker three times mid-stream; once it has caught up, every
view equals a clean replay of the same log, row for row: nothing lost, nothing doubled."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from rich.console import Console

from cli.dev.local_stack import LocalStack
from cli.replay import replay_settings, run_replay
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.positions import LogPosition, behind
from fitstream.settings import ClickHouseSettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, FleetTally, simulate_fleet
from fitstream.simulator.producer import produce_fleet
from stores.clickhouse.tables import (
    NOTIFICATION_DELIVERIES,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_READS,
    sink_groups,
)
from tests.conftest import isolated
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import assert_replay_equals_live, read_topic

pytestmark = pytest.mark.e2e

# At most ten users: who enters a weekly top 10 is then independent of how the
# partitions interleave (see WeeklyBoard), so live and replayed inboxes must match.
SPEC = FleetSpec(users=10, days=6, seed=5, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.03, out_of_order=0.03, late=0.1, malformed=0.002))
PRODUCE_RATE = 300  # records/s: about 20 s of stream to be killed in
KILL_AT = (0.25, 0.5, 0.75)  # shares of the stream produced when the worker dies


def test_three_sigkills_lose_and_double_nothing(own_broker, clickhouse_server, tmp_path):
    settings = isolated(own_broker, tmp_path, "chaos").model_copy(update={
        "clickhouse": ClickHouseSettings(backend="server", host=clickhouse_server.host,
                                         port=clickhouse_server.port,
                                         database="fitstream_chaos")})
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    stack = LocalStack()
    stack.start(settings, "sinks", "sink")
    processor = stack.start(settings, "processor-0", "process")
    expected_records = sum(1 for _ in simulate_fleet(SPEC))
    progress = FleetTally()
    produced = {}

    def produce() -> None:
        produced["tally"] = produce_fleet(settings, SPEC, serde, rate=PRODUCE_RATE,
                                          on_progress=lambda t: setattr(progress, "records",
                                                                        t.records))

    producer = threading.Thread(target=produce)
    position = LogPosition(settings.kafka)
    try:
        producer.start()
        for kill, share in enumerate(KILL_AT, 1):
            while progress.records < share * expected_records:
                assert producer.is_alive(), "the stream ended before the kills"
                processor.check()
                time.sleep(0.1)
            processor.signal(signal.SIGKILL)
            processor.proc.wait(10)
            processor = stack.start(settings, f"processor-{kill}", "process")
        wait_until(lambda: not producer.is_alive(), "the fleet producer to finish",
                   progress=lambda: progress.records, alive=processor.check)
        assert produced["tally"].records == expected_records
        lag: dict = {}

        # The processor's weekly-boards agent consumes the board completions (same group)
        # and sends the top-10 notifications: checked before the sinks, its topic first,
        # or the processor "caught up" on the events topic alone while top-10
        # notifications were still to come (a fixed 2 s sleep used to paper over it).
        checked = [(settings.kafka.board_completions_topic, settings.processor.app_id),
                   *sink_groups(settings)]

        def caught_up() -> bool:
            lag["behind"] = behind(position, settings.kafka.events_topic,
                                   settings.processor.app_id, checked)
            return not lag["behind"]

        wait_until(caught_up, "the processor and every sink to reach the log's end",
                   progress=lambda: repr(lag.get("behind")),
                   # The sinks and the last processor (the killed ones are in the stack too).
                   alive=lambda: (stack.roles[0].check(), processor.check()), poll_s=1)
    finally:
        position.close()
        stack.stop()

    run_replay(settings, "clean", Console(stderr=True, quiet=True))
    # No delivery worker or API runs here: those tables have no sources.
    assert_replay_equals_live(settings, "clean", may_be_empty=(
        NOTIFICATION_READS, NOTIFICATION_DELIVERIES, NOTIFICATION_PREFERENCES))
    unlocks = {serde.decode(m.value())[1].get("achievement_id")
               for m in read_topic(settings, settings.kafka.achievements_topic)}
    replayed = replay_settings(settings, "clean").kafka.achievements_topic
    assert unlocks == {serde.decode(m.value())[1].get("achievement_id")
                       for m in read_topic(settings, replayed)}
    notifications = {serde.decode(m.value())[1]["notification_id"]
                     for m in read_topic(settings, settings.kafka.notifications_topic)}
    assert len(notifications) > SPEC.users
    assert notifications == {serde.decode(m.value())[1]["notification_id"] for m in read_topic(
        settings, replay_settings(settings, "clean").kafka.notifications_topic)}
    # Feature rows: the same rows (the offline table's content), each user's last the same.
    live, clean = ({(row["user_id"], row["as_of"]): row for row in rows}
                   for rows in (feature_rows(settings, settings.kafka.features_topic),
                                feature_rows(settings, replay_settings(
                                    settings, "clean").kafka.features_topic)))
    assert len(live) > SPEC.users and live == clean
    assert last_row_per_user(settings, settings.kafka.features_topic) == last_row_per_user(
        settings, replay_settings(settings, "clean").kafka.features_topic)


def feature_rows(settings, topic: str) -> list[dict]:
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    return [serde.decode(m.value())[1] for m in read_topic(settings, topic)]


def last_row_per_user(settings, topic: str) -> dict[str, dict]:
    """What the online store ends on: each user's last row in log order."""
    return {row["user_id"]: row for row in feature_rows(settings, topic)}
