"""The Faust adapter of the pipeline core: it decodes, loads and stores state, and sends.
What happens to a batch is decided by :func:`fitstream.domain.pipeline.run_batch`, the
same code the Spark backfill runs.

Each partition gets its own actor (``isolated_partitions``), so a batch never mixes
partitions and every table write lands in its own partition's changelog. Per batch:

1. read every erasure produced before the batch and forget newly erased users;
2. decode each record (poison, records of other contracts and erased users' records
   are dead-lettered here), and open its sealed coordinates;
3. :func:`~fitstream.domain.pipeline.run_batch` over the decoded events, with this
   worker's tables behind the :class:`~fitstream.domain.pipeline.KeyedState` port;
4. write each key of the result's snapshot once, then send every output in the
   catalogue's order (fitstream/kafka/topics.py ``OUTPUTS``), routes sealed, and the
   rejections to the dead-letter topic. Each output carries the trace of the input
   record that changed its entity (fitstream/observability/tracing.py ``BatchTraces``):
   with tracing on, a span per input record; off, its traceparent header copied.

Sends go out at once (``force=True``): attached sends would wait for the next offset
commit, seconds away. Faust flushes the producer before every offset commit, so
nothing sent for a batch is lost behind a committed offset; and every touched entity
re-sends its current outputs, so a crash between a state write and a send heals when
the batch is replayed (all consumers are idempotent).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings, subjects
from fitstream.domain import pipeline
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.events import WORKOUT_SUBJECTS, EventType
from fitstream.kafka.dead_letter import SourceRef, dead_letter_headers
from fitstream.kafka.long_poll_shim import install_aiokafka_long_poll
from fitstream.kafka.topics import OUTPUTS
from fitstream.observability import metrics, tracing
from fitstream.privacy.coordinates import (
    CoordinatesUnreadable,
    open_coordinates,
    seal_coordinates,
)
from fitstream.privacy.erasures import ErasureLedger
from fitstream.privacy.fields import FieldCipher, KeyStoreUnavailable, patiently
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from streams.faust.app import WorkoutSessionsApp
from streams.faust.batches import each_batch
from streams.faust.table_state import TableState
from streams.faust.weekly_boards import add_weekly_boards_agent

log = structlog.get_logger("streams.workout_sessions")

# Each record is decoded here and held by nobody else: its coordinates open in place.
open_decoded_coordinates = functools.partial(open_coordinates, in_place=True)


def build(settings: FitStreamSettings) -> WorkoutSessionsApp:
    install_aiokafka_long_poll(settings.kafka.emulate_long_poll_ms)
    wiring = WorkoutSessionsApp(settings)
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    topic_name = settings.kafka.events_topic
    policy = EventTimePolicy(settings.processor.allowed_lateness_ms,
                             settings.processor.unknown_workout_timeout_ms,
                             settings.processor.max_future_skew_ms)
    state = TableState({pipeline.SESSIONS: wiring.sessions, pipeline.CLOCKS: wiring.clocks,
                        pipeline.TOTALS: wiring.user_totals,
                        pipeline.ACHIEVEMENTS: wiring.user_achievements,
                        pipeline.FEATURES: wiring.user_features})
    erasures = ErasureLedger(settings, serde)
    # Coordinates arrive sealed with their user's data key and leave sealed (routes, and
    # re-encoded dead letters): fitstream/privacy/coordinates.py.
    cipher = FieldCipher(key_store(settings))
    never_stopped = threading.Event()

    async def with_keys(coordinates: Callable[..., dict[str, Any]], subject: str,
                        record: dict[str, Any]) -> dict[str, Any]:
        """``coordinates(cipher, subject, record)`` (open or seal); a key store that does
        not answer is waited for off the event loop: the batch can neither go on
        without the event nor skip it, and an exception would end the worker.
        CoordinatesUnreadable propagates."""
        try:
            return coordinates(cipher, subject, record)
        except KeyStoreUnavailable:
            result = await asyncio.get_running_loop().run_in_executor(None, patiently, (
                lambda: coordinates(cipher, subject, record)), never_stopped)
            assert result is not None  # never_stopped is never set
            return result

    def drop_erased_users(partition: int) -> None:
        """Forget every user newly erased on ``partition`` (fitstream/privacy/erasures.py):
        their sessions, clock, totals, achievements and feature history, once per erasure
        (the user-erasures table remembers which erased_at was applied, across restarts)."""
        for user_id, erased_at in erasures.take_new(partition).items():
            key, applied = user_id.encode(), str(erased_at).encode()
            if wiring.user_erasures.get(key) == applied:
                continue
            for table in (wiring.clocks, wiring.user_totals, wiring.user_achievements,
                          wiring.user_features):
                if key in table:
                    del table[key]
            prefix = key + b"/"  # session keys are "<user_id>/<workout_id>"
            for session_key in [k for k in wiring.sessions if k.startswith(prefix)]:
                del wiring.sessions[session_key]
            wiring.user_erasures[key] = applied
            log.info("user_erased", user_id=user_id, erased_at=erased_at, partition=partition)

    async def send(subject: str, topic: str, key: str, record: dict[str, Any],
                   headers: list[tuple[str, bytes]] | None = None) -> None:
        await wiring.outputs[topic].send(key=key.encode(), value=serde.encode(subject, record),
                                         headers=headers, force=True)

    async def dead_letter(raw: bytes | None, key: bytes | None, reason: DeadLetterReason,
                          detail: str, source: SourceRef, reencoded: bool = False) -> None:
        metrics.EVENTS_DEAD_LETTERED.labels(reason=reason.value).inc()
        log.info("dead_letter", reason=reason.value, detail=detail, partition=source.partition,
                 offset=source.offset)
        await wiring.dead_letters.send(
            key=key, value=raw, headers=dead_letter_headers(reason, detail, source, reencoded),
            force=True)

    @wiring.app.agent(wiring.events, isolated_partitions=True, name="workout-sessions")
    async def workout_sessions(stream: Any) -> None:
        await each_batch(stream, settings.processor, process_batch)

    # A user who sends nothing more is forgotten too: an erasure record triggers the
    # drop on its own partition (the user's: the erasure topic is co-partitioned).
    @wiring.app.agent(wiring.erasures, name="user-erasures")
    async def user_erasures(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            await asyncio.get_running_loop().run_in_executor(
                None, erasures.catch_up, [partition])
            drop_erased_users(partition)

    async def decoded_events(batch: list[Any], traces: tracing.BatchTraces,
                             ) -> list[tuple[dict[str, Any], list[Any]]]:
        """The batch's workout events with their refs; the rest is dead-lettered. Each
        one's trace context goes to ``traces``."""
        events = []
        for event in batch:
            message = event.message
            source = SourceRef(topic_name, message.partition, message.offset)
            try:
                subject, record = serde.decode(event.value)
            except SerdeError as exc:
                await dead_letter(event.value, message.key, DeadLetterReason(exc.reason),
                                  str(exc), source)
                continue
            if subject not in WORKOUT_SUBJECTS:
                await dead_letter(event.value, message.key,
                                  DeadLetterReason.NOT_A_WORKOUT_EVENT, subject, source)
                continue
            written_at = round(message.timestamp * 1000)
            if erasures.is_erased(record["user_id"], written_at):
                # No key and an empty value: a dead letter must not copy what was erased.
                await dead_letter(b"", None, DeadLetterReason.USER_ERASED,
                                  "logged at or before the user's erasure", source)
                continue
            try:
                record = await with_keys(open_decoded_coordinates, subject, record)
            except CoordinatesUnreadable as exc:
                await dead_letter(event.value, message.key,
                                  DeadLetterReason.UNREADABLE_COORDINATES, str(exc), source)
                continue
            # Claims carry the record's Kafka timestamp (the broker's: LogAppendTime).
            events.append((record, [message.partition, message.offset, written_at]))
            traces.consumed(message.headers, topic_name, message.partition, message.offset,
                            record["user_id"], record.get("workout_id"))
        return events

    async def process_batch(batch: list[Any]) -> None:
        partition = batch[0].message.partition
        # Every erasure produced before these records is read first (a blocking read:
        # off the event loop), and applied before any record of the batch.
        await asyncio.get_running_loop().run_in_executor(None, erasures.catch_up, [partition])
        drop_erased_users(partition)
        raw_by_offset = {event.message.offset: event for event in batch}
        # Ends the batch's spans even if it fails (exported, marked as errors).
        with tracing.BatchTraces() as traces:
            events = await decoded_events(batch, traces)
            result = pipeline.run_batch(events, state, policy)

            state.write(result.snapshot)
            kafka = settings.kafka
            for output in OUTPUTS:
                records: list[Any] = getattr(result, output.result_field)
                if output.subject == subjects.WORKOUT_ROUTE:
                    records = [await with_keys(seal_coordinates, output.subject, r) for r in records]
                for record in records:
                    await send(output.subject, output.topic(kafka), record[output.key_field],
                               record, traces.headers_for(record))
        for rejection in result.rejections:
            part, offset = rejection.ref[0], rejection.ref[1]
            original = raw_by_offset.get(offset) if part == partition else None
            event = rejection.event
            subject = EventType(event["type"]).subject
            await dead_letter(
                original.value if original else serde.encode(
                    subject, await with_keys(seal_coordinates, subject, event)),
                event["user_id"].encode(), rejection.reason, rejection.detail,
                SourceRef(topic_name, part, offset), reencoded=original is None)

        last = batch[-1].message
        highwater = wiring.app.consumer.highwater(last.tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(group=settings.processor.app_id, topic=topic_name,
                                        partition=str(partition)).set(
                max(0, highwater - last.offset - 1))
        metrics.EVENTS_PROCESSED.inc(len(batch))
        metrics.SAMPLES_PROCESSED.inc(sum(len(e.get("samples") or ()) for e, _ in events))
        metrics.EVENTS_DUPLICATE.inc(result.duplicates)

    add_weekly_boards_agent(wiring, serde, dead_letter)

    @wiring.app.on_partitions_revoked.connect
    async def forget_revoked_lag(app: Any, revoked: Any, **_: Any) -> None:
        # Their new owner reports them: a stale value here would be counted twice.
        metrics.forget_consumer_lag(settings.processor.app_id,
                                    ((tp.topic, tp.partition) for tp in revoked))

    @wiring.app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        """This worker's counters: processed, duplicates, dead-lettered, lag."""
        # aiohttp takes the charset separately from the content type.
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return wiring
