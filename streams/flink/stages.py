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
batch size.

Erasures (fitstream/privacy/erasures.py): Faust reads the erasure topic to its end before
each batch. A keyed function is called per record, so :class:`ErasureWatch` reads it
before a record logged after its last read began (an erasure produced before a record
was logged is then always known before the record is processed, as in Faust), and at
least every ``processor.flink.erasure_refresh_s``; a backlog of older records costs one
read a refresh. The job also feeds the erasure topic itself into the events stage, keyed
by user, so a user who sends nothing more is forgotten too (:meth:`UserStage.erase`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

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
    def clear(self) -> None: ...


# The erasure this user's state last dropped (``{"erased_at": ms}``), so that each
# erasure drops it once: the events stage meets the same erasure through the ledger and
# through the erasure topic, and a user who came back after it keeps their new state.
APPLIED_ERASURE: Final = "applied_erasure"


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

    def forget_current_key(self) -> None:
        """Drop every store's entries of the current key (the user being processed):
        their sessions, clock, totals, achievements and feature history."""
        for store in pipeline.STATE_STORES:
            self.stores[store].clear()


class ErasureWatch:
    """When the events stage re-reads the erasure topic (the module docstring says why).
    ``catch_up`` reads the topic to its end (``ErasureLedger.catch_up``)."""

    def __init__(self, catch_up: Callable[[], None], refresh_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._catch_up = catch_up
        self._refresh_s = refresh_s
        self._clock = clock
        self._read_from = float("-inf")  # wall clock (s) when the last read began

    def before(self, written_at_ms: int) -> None:
        """Called before a record logged at ``written_at_ms`` is processed."""
        now = self._clock()
        if written_at_ms >= self._read_from * 1000 or now - self._read_from >= self._refresh_s:
            self._read_from = now
            self._catch_up()


def policy_of(settings: FitStreamSettings) -> EventTimePolicy:
    processor = settings.processor
    return EventTimePolicy(processor.allowed_lateness_ms, processor.unknown_workout_timeout_ms,
                           processor.max_future_skew_ms)


class UserStage:
    """The events stage (keyed by user): one record read from the events topic in, the
    records to send out. Board completions go out to their topic like every output;
    the job also feeds them to the boards stage (keyed by board)."""

    def __init__(self, settings: FitStreamSettings, serde: AvroSerde, cipher: FieldCipher,
                 erased_at: Callable[[str], int | None]) -> None:
        """``erased_at(user_id)``: the user's latest erasure known (``ErasureLedger``)."""
        self.kafka = settings.kafka
        self.serde = serde
        self.cipher = cipher
        self.erased_at = erased_at
        self.policy = policy_of(settings)
        self.topic_name = settings.kafka.events_topic

    @staticmethod
    def erase(user_erased_at: int, state: MapStoreState) -> bool:
        """Forget the current user as of an erasure at ``user_erased_at`` unless that (or
        a later) erasure already did; True if their state was dropped."""
        applied = state.get(APPLIED_ERASURE, "erased_at")
        if applied is not None and applied["erased_at"] >= user_erased_at:
            return False
        state.forget_current_key()
        state.write({(APPLIED_ERASURE, "erased_at"): {"erased_at": user_erased_at}})
        return True

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
        erased_at = self.erased_at(record["user_id"])
        if erased_at is not None:
            self.erase(erased_at, state)
            if written_at <= erased_at:
                # No key and an empty value: a dead letter must not copy what was erased.
                return [self._dead_letter(b"", None, DeadLetterReason.USER_ERASED,
                                          "logged at or before the user's erasure", source)]
        try:
            record = open_coordinates(self.cipher, subject, record, in_place=True)
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

