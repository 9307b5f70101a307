"""The Flink job's functions, in a module of their own: cloudpickle pickles a class
defined in ``__main__`` by value with the globals it reaches (the job's failed with
``cannot pickle '_thread.RLock' object``), and one in an importable module by reference,
so the Python workers import it from the installed package instead.

Metrics go through Flink's metric groups (the job's Prometheus reporter serves them):
``events`` read, ``dead_letters`` by ``reason``, ``outputs`` sent and ``erasures``
applied, like the Faust processor's counters (fitstream/observability/metrics.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.domain import pipeline
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.privacy.erasures import ErasureLedger
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import get_settings
from streams.flink.stages import (
    APPLIED_ERASURE,
    BoardStage,
    ErasureWatch,
    MapStoreState,
    UserStage,
)

BYTES = Types.PRIMITIVE_ARRAY(Types.BYTE())
OUT_TYPE = Types.ROW_NAMED(["topic", "k", "v", "headers"],
                           [Types.STRING(), BYTES, BYTES, Types.MAP(Types.STRING(), BYTES)])
BOARD_TYPE = Types.ROW_NAMED(["board", "v"], [Types.STRING(), BYTES])
BOARD_COMPLETIONS = OutputTag("board-completions", BOARD_TYPE)


def user_of(row: Row) -> str:
    """The events stage's key: the record key, the user id (ingest keys by it, and so
    does ``publish_erasure`` on the erasure topic)."""
    return (row[0] or b"").decode("utf-8", "replace")


def board_of(row: Row) -> str:
    return row[0]


def _millis(ts: Any) -> int | None:
    """The Kafka record timestamp (TIMESTAMP_LTZ(3) metadata) as epoch ms. Process mode
    hands Python a ``pyflink.common.time.Instant``; thread mode (pemja) the Java
    ``Instant`` wrapped as a ``PyJObject``, which has only the Java methods."""
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return round(ts.timestamp() * 1000)
    if hasattr(ts, "to_epoch_milli"):  # process mode: pyflink.common.time.Instant
        return int(ts.to_epoch_milli())
    return int(ts.toEpochMilli())  # thread mode: the java.time.Instant itself (pemja)


def _map_states(ctx: RuntimeContext, stores: tuple[str, ...]) -> MapStoreState:
    return MapStoreState({store: ctx.get_map_state(MapStateDescriptor(store, Types.STRING(),
                                                                      Types.STRING()))
                          for store in stores})


class UserFunction(KeyedCoProcessFunction):
    """The events stage, keyed by user: input 1 is the events topic, input 2 the erasure
    topic (``UserErased``, keyed by user id like the events)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        settings = get_settings()
        self.board_topic = settings.kafka.board_completions_topic
        self.serde = AvroSerde(registry_from_settings(settings.schema_registry))
        self.ledger = ErasureLedger(settings, self.serde)
        self.erasures = ErasureWatch(self.ledger.catch_up,
                                     settings.processor.flink.erasure_refresh_s)
        self.stage = UserStage(settings, self.serde, FieldCipher(key_store(settings)),
                               self.ledger.erased_at)
        self.state = _map_states(runtime_context, (*pipeline.STATE_STORES, APPLIED_ERASURE))
        metrics = runtime_context.get_metrics_group()
        self.events = metrics.counter("events")
        self.outputs = metrics.counter("outputs")
        self.erased = metrics.counter("erasures")
        # One counter per reason, made here: PyFlink registers metrics in open().
        self.dead_letters = {reason.value: metrics.add_group("reason", reason.value).counter(
            "dead_letters") for reason in DeadLetterReason}
        self.dlq_topic = settings.kafka.dlq_topic

    def close(self) -> None:
        self.ledger.close()

    def process_element1(self, value: Row, ctx: KeyedCoProcessFunction.Context):
        k, v, partition, offset, ts = value[0], value[1], value[2], value[3], value[4]
        written_at = _millis(ts)
        self.events.inc()
        self.erasures.before(written_at)
        for out in self.stage.process(k, v, partition, offset, written_at, self.state):
            if out.topic == self.dlq_topic:
                self.dead_letters[out.headers["dlq.reason"].decode()].inc()
            else:
                self.outputs.inc()
            yield Row(out.topic, out.key, out.value, out.headers)
            if out.topic == self.board_topic:
                yield BOARD_COMPLETIONS, Row(out.key.decode(), out.value)

    def process_element2(self, value: Row, ctx: KeyedCoProcessFunction.Context):
        try:
            _, erasure = self.serde.decode(value[1])
        except SerdeError:
            return  # the ledger logs and skips undecodable erasures the same way
        if UserStage.erase(erasure["erased_at"], self.state):
            self.erased.inc()
        yield from ()


class BoardFunction(KeyedProcessFunction):
    """The boards stage, keyed by board."""

    def open(self, runtime_context: RuntimeContext) -> None:
        settings = get_settings()
        self.stage = BoardStage(settings, AvroSerde(registry_from_settings(
            settings.schema_registry)))
        self.state = _map_states(runtime_context, (pipeline.BOARDS,))

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        for out in self.stage.process(value[1], self.state):
            yield Row(out.topic, out.key, out.value, out.headers)
