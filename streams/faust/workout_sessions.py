"""The workout-session agent: log records in; view changes, achievement events and dead
letters out.

Each partition gets its own actor (``isolated_partitions``), so a batch never
mixes partitions and every table write lands in its own partition's changelog.
Per batch:

1. decode, and apply the events with the domain core (workout sessions);
2. feed every touched completed workout to its user's leaderboard totals and
   achievements (tables keyed by user, co-partitioned with the events);
3. write each touched table key once;
4. send WorkoutSummary, LeaderboardEntry, AchievementProgress changes,
   AchievementUnlocked and PersonalRecord events, notifications (unlocks, records,
   distance goals), completed workouts re-keyed by weekly board (for the
   top-places agent, streams/faust/weekly_boards.py), UserFeatures rows (the feature
   store's, fitstream/domain/features.py), and dead letters.

Sends go out at once (``force=True``): attached sends would wait for the next
offset commit, seconds away. Faust flushes the producer before every offset
commit, so nothing sent for a batch is lost behind a committed offset; and every
touched entity re-sends its current outputs, so a crash between a state write
and a send heals when the batch is replayed (all consumers are idempotent).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.domain.achievements import UserAchievements, apply_completed_workouts
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.events import WORKOUT_SUBJECTS, EventType
from fitstream.domain.features import UserFeatureHistory, apply_completed_to_features
from fitstream.domain.leaderboards import UserLeaderboardTotals, count_completed_workouts
from fitstream.domain.notifications import (
    board_completion,
    for_goal,
    for_record,
    for_unlock,
    weekly_board_keys,
)
from fitstream.domain.session_batch import EventTimePolicy, PartitionClock, apply_batch
from fitstream.domain.workout_session import WorkoutSession
from fitstream.kafka.dead_letter import SourceRef, dead_letter_headers
from fitstream.kafka.long_poll_shim import install_aiokafka_long_poll
from fitstream.observability import metrics
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
from streams.faust.weekly_boards import NOTIFICATION_SUBJECT, add_weekly_boards_agent

log = structlog.get_logger("streams.workout_sessions")

SUMMARY_SUBJECT = "fitstream.views.WorkoutSummary"
LEADERBOARD_SUBJECT = "fitstream.views.LeaderboardEntry"
PROGRESS_SUBJECT = "fitstream.views.AchievementProgress"
UNLOCKED_SUBJECT = "fitstream.achievements.AchievementUnlocked"
RECORD_SUBJECT = "fitstream.achievements.PersonalRecord"
ROUTE_SUBJECT = "fitstream.views.WorkoutRoute"
CLAIM_SUBJECT = "fitstream.views.WorkoutClaim"
FEATURES_SUBJECT = "fitstream.features.UserFeatures"

State = TypeVar("State")


def table_loader(table: Any, from_state: Callable[[dict], State]) -> Callable[[str], State | None]:
    """A domain loader over a Faust table of orjson-encoded state, keyed by UTF-8 ids."""
    def load(key: str) -> State | None:
        stored = table.get(key.encode())
        return from_state(orjson.loads(stored)) if stored is not None else None
    return load


def store_states(table: Any, states: dict[str, Any]) -> None:
    for key, state in states.items():
        table[key.encode()] = orjson.dumps(state.to_state())


def build(settings: FitStreamSettings) -> WorkoutSessionsApp:
    install_aiokafka_long_poll(settings.kafka.emulate_long_poll_ms)
    wiring = WorkoutSessionsApp(settings)
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    topic_name = settings.kafka.events_topic
    policy = EventTimePolicy(settings.processor.allowed_lateness_ms,
                             settings.processor.unknown_workout_timeout_ms,
                             settings.processor.max_future_skew_ms)
    # Sessions are keyed by partition and workout id: Faust's stores answer a key from
    # any partition the worker holds, and a workout id another user reuses on another
    # partition must not reach this one's session (which partitions share a worker
    # must not change any decision).
    load_stored_session = table_loader(wiring.sessions, WorkoutSession.from_state)
    load_totals = table_loader(wiring.user_totals, UserLeaderboardTotals.from_state)
    load_achievements = table_loader(wiring.user_achievements, UserAchievements.from_state)
    load_features = table_loader(wiring.user_features, UserFeatureHistory.from_state)
    erasures = ErasureLedger(settings, serde)
    # Coordinates arrive sealed with their user's data key and leave sealed (routes, and
    # re-encoded dead letters): fitstream/privacy/coordinates.py.
    cipher = FieldCipher(key_store(settings))
    never_stopped = threading.Event()

    async def opened(subject: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its coordinates opened; CoordinatesUnreadable if they do not
        open. A key store that does not answer is waited for, off the event loop (the
        batch cannot go on without the event, nor skip it)."""
        try:
            return open_coordinates(cipher, subject, record)
        except KeyStoreUnavailable:
            result = await asyncio.get_running_loop().run_in_executor(None, patiently, (
                lambda: open_coordinates(cipher, subject, record)), never_stopped)
            assert result is not None  # never_stopped is never set
            return result

    def drop_erased_users(partition: int) -> None:
        """Forget every user newly erased on ``partition`` (fitstream/privacy/erasures.py):
        their sessions, totals, achievements and feature history, once per erasure (the
        user-erasures table remembers which erased_at was applied, across restarts)."""
        for user_id, erased_at in erasures.take_new(partition).items():
            key, applied = user_id.encode(), str(erased_at).encode()
            if wiring.user_erasures.get(key) == applied:
                continue
            for table in (wiring.user_totals, wiring.user_achievements, wiring.user_features):
                if key in table:
                    del table[key]
            for session_key, state in list(wiring.sessions.items()):
                if orjson.loads(state)["user_id"] == user_id:
                    del wiring.sessions[session_key]
            wiring.user_erasures[key] = applied
            log.info("user_erased", user_id=user_id, erased_at=erased_at, partition=partition)

    async def send_all(topic: Any, subject: str, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            await topic.send(key=record["user_id"].encode(),
                             value=serde.encode(subject, record), force=True)

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

    async def process_batch(batch: list[Any]) -> None:
        partition = batch[0].message.partition
        # Every erasure produced before these records is read first (a blocking read:
        # off the event loop), and applied before any record of the batch.
        await asyncio.get_running_loop().run_in_executor(None, erasures.catch_up, [partition])
        drop_erased_users(partition)
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
            if erasures.is_erased(record["user_id"], round(message.timestamp * 1000)):
                # No key and an empty value: a dead letter must not copy what was erased.
                await dead_letter(b"", None, DeadLetterReason.USER_ERASED,
                                  "logged at or before the user's erasure", source)
                continue
            try:
                record = await opened(subject, record)
            except CoordinatesUnreadable as exc:
                await dead_letter(event.value, message.key,
                                  DeadLetterReason.UNREADABLE_COORDINATES, str(exc), source)
                continue
            samples += len(record.get("samples") or ())
            raw_by_offset[message.offset] = event
            decoded.append((record, [message.partition, message.offset]))

        clock_key = str(partition)
        clock = table_loader(wiring.clocks, PartitionClock.from_state)(clock_key) \
            or PartitionClock()
        # Claims carry the Started record's Kafka timestamp (the broker's: LogAppendTime).
        record_ms = {e.message.offset: round(e.message.timestamp * 1000) for e in batch}
        result = apply_batch(decoded, lambda w: load_stored_session(f"{partition}/{w}"),
                             clock, policy, (batch[0].message.offset, batch[-1].message.offset),
                             record_time=lambda ref: record_ms[ref[1]])
        completed = result.completed_summaries()
        totals, entries = count_completed_workouts(
            completed, load_totals, clock.settled_watermark, policy.allowed_lateness_ms)
        achievements, changes = apply_completed_workouts(completed, load_achievements)
        feature_histories, feature_rows = apply_completed_to_features(completed, load_features)

        store_states(wiring.sessions, {f"{partition}/{w}": session
                                       for w, session in result.sessions.items()})
        store_states(wiring.clocks, {clock_key: clock})
        store_states(wiring.user_totals, totals)
        store_states(wiring.user_achievements, achievements)
        store_states(wiring.user_features, feature_histories)

        await send_all(wiring.summaries, SUMMARY_SUBJECT, result.summaries)
        await send_all(wiring.routes, ROUTE_SUBJECT,
                       [seal_coordinates(cipher, ROUTE_SUBJECT, r) for r in result.routes])
        for claim in result.claims:  # keyed by workout: one workout's claims meet
            await wiring.claims.send(key=claim["workout_id"].encode(),
                                     value=serde.encode(CLAIM_SUBJECT, claim), force=True)
        await send_all(wiring.leaderboard_entries, LEADERBOARD_SUBJECT, entries)
        await send_all(wiring.achievement_progress, PROGRESS_SUBJECT, changes.progress)
        await send_all(wiring.achievements, UNLOCKED_SUBJECT, changes.unlocked)
        await send_all(wiring.achievements, RECORD_SUBJECT, changes.records)
        await send_all(wiring.features, FEATURES_SUBJECT, feature_rows)
        await send_all(wiring.notifications, NOTIFICATION_SUBJECT, [
            *map(for_unlock, changes.unlocked), *map(for_record, changes.records),
            *map(for_goal, result.goals)])
        for summary in completed:
            for board in weekly_board_keys(summary):
                await wiring.board_completions.send(
                    key=board.encode(), value=orjson.dumps(board_completion(board, summary)),
                    force=True)
        for rejection in result.rejections:
            part, offset = rejection.ref
            original = raw_by_offset.get(offset) if part == partition else None
            event = rejection.event
            subject = EventType(event["type"]).subject
            await dead_letter(
                original.value if original else serde.encode(
                    subject, seal_coordinates(cipher, subject, event)),
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

    add_weekly_boards_agent(wiring, serde, dead_letter)

    @wiring.app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        """This worker's counters: processed, duplicates, dead-lettered, lag."""
        # aiohttp takes the charset separately from the content type.
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return wiring
