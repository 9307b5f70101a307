"""The Flink adapter of the pipeline core, without Flink: what one record read from the
events topic (or one board completion) becomes, given the keyed state behind the
pipeline core's :class:`~fitstream.domain.pipeline.KeyedState` port.

It is engine-free on purpose: streams/flink/job.py calls it from a
``KeyedProcessFunction`` (keyed state in ``MapState``), and it imports cleanly in the app
venv too, so it can be read and tested beside the Faust adapter
(streams/faust/workout_sessions.py), whose per-batch steps it repeats for a batch of
one record: decode (poison and other contracts dead-lettered), open the sealed
coordinates, :func:`~fitstream.domain.pipeline.run_batch`, write the snapshot, then
every output in the catalogue's order (routes sealed again) and the rejections.

Flink calls a keyed function once per record, so a "batch" here is one event: the
differential test's batch-1 Faust run shows the core gives the same views for any
batch size. Not done yet (groundwork): the erasure ledger (Faust catches up on the
erasure topic before each batch) and the processor's Prometheus metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from fitstream.contracts import AvroSerde, SerdeError, subjects
from fitstream.domain import pipeline
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.events import WORKOUT_SUBJECTS, EventType
from fitstream.kafka.dead_letter import SourceRef, dead_letter_headers
from fitstream.kafka.topics import BOARD_OUTPUTS, OUTPUTS
from fitstream.privacy.coordinates import CoordinatesUnreadable, open_coordinates, seal_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.settings import FitStreamSettings


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One Kafka record to send: the sink table's columns (topic, key, value, headers)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class StoreMap(Protocol):
    """The part of Flink's ``MapState[str, str]`` the port uses."""

    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...
    def remove(self, key: str) -> None: ...


class MapStoreState:
    """The pipeline's :class:`~fitstream.domain.pipeline.KeyedState` over one map per
    store, JSON (orjson) like the Faust tables (streams/faust/table_state.py), held as
    ``str``: in thread mode PyFlink converts a byte-array state value to a tuple of
    ints, and its ``MapState.get`` of an absent key raises ``TypeError: 'NoneType' object
    is not iterable`` (pyflink/fn_execution/embedded/converters.py ArrayDataConverter);
    a string value works in both modes.

    In Flink every map is keyed state of the current key (the user, or the board), so
    ``MapState.get("u1/w1")`` reads user u1's session w1 only while u1's record is
    processed: every key the core reads for a record belongs to that record's user
    (sessions ``<user_id>/<workout_id>``, the rest ``user_id``)."""

    def __init__(self, stores: dict[str, StoreMap]) -> None:
        self.stores = stores

    def get(self, store: str, key: str) -> dict[str, Any] | None:
        stored = self.stores[store].get(key)
        return orjson.loads(stored) if stored is not None else None

    def write(self, snapshot: dict[tuple[str, str], dict[str, Any] | None]) -> None:
        for (store, key), state in snapshot.items():
            if state is None:
                self.stores[store].remove(key)
            else:
                self.stores[store].put(key, orjson.dumps(state).decode())


def policy_of(settings: FitStreamSettings) -> EventTimePolicy:
    processor = settings.processor
    return EventTimePolicy(processor.allowed_lateness_ms, processor.unknown_workout_timeout_ms,
                           processor.max_future_skew_ms)


class UserStage:
    """The events stage (keyed by user): one record read from the events topic in, the
    records to send out. Board completions go out to their topic like every output;
    the job also feeds them to the boards stage (keyed by board)."""

    def __init__(self, settings: FitStreamSettings, serde: AvroSerde, cipher: FieldCipher,
                 ) -> None:
        self.kafka = settings.kafka
        self.serde = serde
        self.cipher = cipher
        self.policy = policy_of(settings)
        self.topic_name = settings.kafka.events_topic

    def _dead_letter(self, raw: bytes | None, key: bytes | None, reason: DeadLetterReason,
                     detail: str, source: SourceRef, reencoded: bool = False) -> OutRecord:
        return OutRecord(self.kafka.dlq_topic, key, raw or b"",
                         dict(dead_letter_headers(reason, detail, source, reencoded)))

    def process(self, key: bytes | None, value: bytes, partition: int, offset: int,
                written_at: int, state: MapStoreState) -> list[OutRecord]:
        source = SourceRef(self.topic_name, partition, offset)
        try:
            subject, record = self.serde.decode(value)
        except SerdeError as exc:
            return [self._dead_letter(value, key, DeadLetterReason(exc.reason), str(exc),
                                      source)]
        if subject not in WORKOUT_SUBJECTS:
            return [self._dead_letter(value, key, DeadLetterReason.NOT_A_WORKOUT_EVENT,
                                      subject, source)]
        try:
            record = open_coordinates(self.cipher, subject, record)
        except CoordinatesUnreadable as exc:
            return [self._dead_letter(value, key, DeadLetterReason.UNREADABLE_COORDINATES,
                                      str(exc), source)]
        result = pipeline.run_batch([(record, [partition, offset, written_at])], state,
                                    self.policy)
        state.write(result.snapshot)
        out: list[OutRecord] = []
        for output in OUTPUTS:
            records: list[Any] = getattr(result, output.result_field)
            if output.subject == subjects.WORKOUT_ROUTE:
                records = [seal_coordinates(self.cipher, output.subject, r) for r in records]
            out += [OutRecord(output.topic(self.kafka), r[output.key_field].encode(),
                              self.serde.encode(output.subject, r), {}) for r in records]
        for rejection in result.rejections:
            part, off = rejection.ref[0], rejection.ref[1]
            event = rejection.event
            original = part == partition and off == offset
            if original:
                raw = value
            else:  # a buffered event released and refused later: re-encoded, sealed
                rejected_subject = EventType(event["type"]).subject
                raw = self.serde.encode(rejected_subject, seal_coordinates(
                    self.cipher, rejected_subject, event))
            out.append(self._dead_letter(
                raw, event["user_id"].encode(), rejection.reason, rejection.detail,
                SourceRef(self.topic_name, part, off), reencoded=not original))
        return out


class BoardStage:
    """The boards stage (keyed by board): one encoded board completion in, the
    notifications for users who entered the board's top places out."""

    def __init__(self, settings: FitStreamSettings, serde: AvroSerde) -> None:
        self.kafka = settings.kafka
        self.serde = serde

    def process(self, completion: bytes, state: MapStoreState) -> list[OutRecord]:
        _, decoded = self.serde.decode(completion)
        result = pipeline.run_board_batch([decoded], state)
        state.write(result.snapshot)
        return [OutRecord(output.topic(self.kafka), r[output.key_field].encode(),
                          self.serde.encode(output.subject, r), {})
                for output in BOARD_OUTPUTS for r in getattr(result, output.result_field)]

