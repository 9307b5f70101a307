"""The workout-session agent: log records in; WorkoutSummary changes, LeaderboardEntry
changes and dead letters out.

Each partition gets its own actor (``isolated_partitions``), so a batch never
mixes partitions and every table write lands in its own partition's changelog.
Per batch: decode, apply with the domain core, write each touched session once,
count newly completed workouts into their users' leaderboard totals (a table keyed
by user, co-partitioned with the events), then send summaries, entries and dead
letters. Sends go out at once (``force=True``):
attached sends would wait for the next offset commit, seconds away. Faust flushes
the producer before every offset commit, so nothing sent for a batch can be lost
behind a committed offset (at least once).
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.events import EventType
from fitstream.domain.leaderboards import UserLeaderboardTotals, count_completed_workouts
from fitstream.domain.session_batch import EventTimePolicy, PartitionClock, apply_batch
from fitstream.domain.workout_session import WorkoutSession, WorkoutStatus
from fitstream.kafka.dead_letter import SourceRef, dead_letter_headers
from fitstream.kafka.long_poll_shim import install_aiokafka_long_poll
from fitstream.observability import metrics
from fitstream.settings import FitStreamSettings
from streams.faust.app import WorkoutSessionsApp

log = structlog.get_logger("streams.workout_sessions")

WORKOUT_SUBJECTS = frozenset(t.subject for t in EventType)
SUMMARY_SUBJECT = "fitstream.views.WorkoutSummary"
LEADERBOARD_SUBJECT = "fitstream.views.LeaderboardEntry"


def build(settings: FitStreamSettings) -> WorkoutSessionsApp:
    install_aiokafka_long_poll(settings.kafka.emulate_long_poll_ms)
    wiring = WorkoutSessionsApp(settings)
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    topic_name = settings.kafka.events_topic
    policy = EventTimePolicy(settings.processor.allowed_lateness_ms,
                             settings.processor.unknown_workout_timeout_ms)
    sessions, clocks, user_totals = wiring.sessions, wiring.clocks, wiring.user_totals

    def load(workout_id: str) -> WorkoutSession | None:
        state = sessions.get(workout_id.encode())
        return WorkoutSession.from_state(orjson.loads(state)) if state is not None else None

    def load_totals(user_id: str) -> UserLeaderboardTotals | None:
        state = user_totals.get(user_id.encode())
        return UserLeaderboardTotals.from_state(orjson.loads(state)) if state else None

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
        async for batch in stream.take_events(settings.processor.batch_max_records,
                                              within=settings.processor.batch_within_s):
            # take_events yields outside the stream's own context: make the batch's
            # last event current, so table writes reach this partition's changelog.
            stream._set_current_event(batch[-1])
            try:
                await process_batch(batch)
            except Exception:
                # take_events acks a batch even when its consumer raises; exiting
                # before the next commit keeps the batch in the log (at least once).
                # Domain failures never get here: they are dead-lettered.
                log.exception("batch_failed", partition=batch[0].message.partition,
                              first_offset=batch[0].message.offset)
                os._exit(70)

    async def process_batch(batch: list[Any]) -> None:
        partition = batch[0].message.partition
        raw_by_offset: dict[int, Any] = {}
        decoded = []
        samples = 0
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
            samples += len(record.get("samples") or ())
            raw_by_offset[message.offset] = event
            decoded.append((record, [message.partition, message.offset]))
        clock_key = str(partition).encode()
        clock_state = clocks.get(clock_key)
        clock = PartitionClock.from_state(orjson.loads(clock_state) if clock_state else None)
        result = apply_batch(decoded, load, clock, policy)
        for workout_id, session in result.sessions.items():
            sessions[workout_id.encode()] = orjson.dumps(session.to_state())
        clocks[clock_key] = orjson.dumps(clock.to_state())
        for summary in result.summaries:
            await wiring.summaries.send(key=summary["user_id"].encode(),
                                        value=serde.encode(SUMMARY_SUBJECT, summary), force=True)
        touched = (s.summary() for s in result.sessions.values()
                   if s.status is WorkoutStatus.COMPLETED)
        users, entries = count_completed_workouts(
            (s for s in touched if s is not None), load_totals, clock.watermark,
            policy.allowed_lateness_ms)
        for user_id, totals in users.items():
            user_totals[user_id.encode()] = orjson.dumps(totals.to_state())
        for entry in entries:
            await wiring.leaderboard_entries.send(
                key=entry["user_id"].encode(), value=serde.encode(LEADERBOARD_SUBJECT, entry),
                force=True)
        for rejection in result.rejections:
            part, offset = rejection.ref
            original = raw_by_offset.get(offset) if part == partition else None
            event = rejection.event
            await dead_letter(
                original.value if original else serde.encode(
                    EventType(event["type"]).subject, event),
                event["user_id"].encode(), rejection.reason, rejection.detail,
                SourceRef(topic_name, part, offset), reencoded=original is None)
        last = batch[-1].message
        highwater = wiring.app.consumer.highwater(last.tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(group=settings.processor.app_id, topic=topic_name,
                                        partition=str(partition)).set(
                max(0, highwater - last.offset - 1))
        metrics.EVENTS_PROCESSED.inc(len(batch))
        metrics.SAMPLES_PROCESSED.inc(samples)
        metrics.EVENTS_DUPLICATE.inc(result.duplicates)

    @wiring.app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        """This worker's counters: processed, duplicates, dead-lettered, lag."""
        # aiohttp takes the charset separately from the content type.
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return wiring
