"""Pipeline health for operators: events/s, consumer lag per role, dead letters.

``GET /api/v1/pipeline/health`` is for **analyst tokens** (``fitstream analysts token --name NAME``).
Who may read it, and why that kind:
* not the public: lag and dead-letter counts tell an attacker whether their poison
  records arrived and how far behind (so how exploitable) the views are;
* not user tokens: a user is trusted with their own data only, and this is everyone's
  pipeline;
* not only admin tokens: those may erase users (``DELETE /admin/users/{id}``), and
  handing that power to whoever watches a dashboard widens it for no reason;
* analysts already read aggregates of every user's data (read-only SQL on the store),
  a strictly larger view than counts and offsets. No payload and no ``dlq.detail``
  (which quotes the payload) is ever served here: only reasons and positions.

Reading Kafka costs: one answer is computed at most every ``api.pipeline_health_ttl_s``
seconds per process, whoever asks, under a lock. A failure is an answer too: with the
broker down a measurement waits out Kafka timeouts (seconds), so its failure is kept
for the same ttl and every caller meanwhile gets the 503 at once (the Kafka error is
logged; analysts get a generic message). While one caller measures, the others do not
queue behind it (each waiter would hold a worker thread shared with every other sync
route): they get the previous answer or failure; only before the first outcome do they
wait for it. The dead letters are counted incrementally
(fitstream/kafka/log_watch.py): each refresh reads only what was appended since the
last. The clients are made on the first request and closed when the app shuts down.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentAnalyst
from api.errors import ApiError, ErrorBody
from fitstream.kafka.log_watch import DeadLetterTally, EventRate, LogWatch, lag
from fitstream.settings import FitStreamSettings
from stores.clickhouse.tables import sink_groups
from stores.delta.writer_groups import lakehouse_groups

log = structlog.get_logger("api.pipeline_health")

UNAVAILABLE_MESSAGE = "the pipeline's readings are unavailable: Kafka did not answer"

def consumer_roles(settings: FitStreamSettings) -> dict[str, list[tuple[str, str]]]:
    """Each role's (topic, consumer group) pairs: its lag is the sum over them."""
    kafka = settings.kafka
    return {
        "processor": [(kafka.events_topic, settings.processor.consumer_group)],
        "clickhouse-sink": sink_groups(settings),
        "lakehouse": lakehouse_groups(settings),
        "feast-online": [(kafka.features_topic, settings.feast.group_id)],
        "scorer": [(kafka.features_topic, settings.models.score_group_id)],
        "delivery": [(kafka.notifications_topic, settings.notifications.group_id)],
    }


def dead_letter_topics(settings: FitStreamSettings) -> list[str]:
    kafka = settings.kafka
    return [kafka.dlq_topic, kafka.notification_dlq_topic, kafka.scoring_dlq_topic]


class RoleLag(BaseModel):
    role: str
    groups: int
    lag: int | None  # None: no group of the role has committed anything (not running)


class DeadLetterCount(BaseModel):
    topic: str
    reason: str
    count: int


class RecentDeadLetter(BaseModel):
    reason: str
    topic: str
    partition: int
    offset: int
    at: datetime
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None


class PipelineHealth(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "measured_at": "2026-12-01T15:22:53Z", "events_topic": "workouts.events.v1",
        "events_total": 1_204_332, "events_per_s": 412.5,
        "lag": [{"role": "processor", "groups": 1, "lag": 37},
                {"role": "delivery", "groups": 1, "lag": None}],
        "dead_letters": [{"topic": "workouts.events.dlq.v1", "reason": "late", "count": 12}],
        "dead_letters_complete": True,
        "recent_dead_letters": [{
            "reason": "late", "topic": "workouts.events.dlq.v1", "partition": 3,
            "offset": 11, "at": "2026-12-01T15:20:02Z", "source_topic": "workouts.events.v1",
            "source_partition": 3, "source_offset": 88_120}]}]})

    measured_at: datetime
    events_topic: str
    events_total: int
    events_per_s: float | None  # None until two readings exist
    lag: list[RoleLag]
    dead_letters: list[DeadLetterCount]
    dead_letters_complete: bool  # False while a backlog is still being counted
    recent_dead_letters: list[RecentDeadLetter]


class PipelineUnavailable(Exception):
    """The last measurement failed (its Kafka error is ``__cause__``); the next is tried
    in ``retry_after_s`` seconds at the earliest."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(UNAVAILABLE_MESSAGE)
        self.retry_after_s = retry_after_s


class PipelineReadings:
    """The clients and what they remember between answers (module docstring).

    ``answer()`` returns the current answer or raises :class:`PipelineUnavailable`;
    ``kafka_timeout_s`` bounds each Kafka request, ``clock`` is monotonic seconds."""

    def __init__(self, settings: FitStreamSettings, kafka_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.ttl_s = settings.api.pipeline_health_ttl_s
        self.clock = clock
        self.roles = consumer_roles(settings)
        self.watch = LogWatch(settings.kafka, timeout_s=kafka_timeout_s)
        self.rate = EventRate()
        self.tally = DeadLetterTally(settings.kafka, dead_letter_topics(settings),
                                     keep=settings.api.pipeline_health_recent_dead_letters)
        self._lock = threading.Lock()
        # The last outcome, (at, answer, failure) with one of the two set, replaced
        # whole so that a caller not holding the lock reads a consistent one.
        self._outcome: tuple[float, dict[str, Any] | None, Exception | None] | None = None

    def answer(self) -> dict[str, Any]:
        if not self._lock.acquire(blocking=False):
            outcome = self._outcome
            if outcome is not None:  # someone is measuring: answer what is known
                return self._give(outcome)
            self._lock.acquire()  # nothing known yet: wait for the first outcome
        try:
            now = self.clock()
            if self._outcome is None or now - self._outcome[0] >= self.ttl_s:
                try:
                    self._outcome = (now, self._measure(now), None)
                except Exception as exc:  # the broker is down or slow: keep that too
                    log.warning("pipeline_health_unavailable", error=repr(exc)[:500])
                    self._outcome = (now, None, exc)
            return self._give(self._outcome)
        finally:
            self._lock.release()

    def _give(self, outcome: tuple[float, dict[str, Any] | None, Exception | None]
              ) -> dict[str, Any]:
        at, answer, failure = outcome
        if failure is not None:
            left = self.ttl_s - (self.clock() - at)
            raise PipelineUnavailable(max(1, math.ceil(left))) from failure
        assert answer is not None
        return answer

    def _measure(self, now: float) -> dict[str, Any]:
        events_topic = self.settings.kafka.events_topic
        topics = {topic for pairs in self.roles.values() for topic, _ in pairs}
        ends = self.watch.ends(topics | {events_topic, *self.tally.topics})
        committed = self.watch.committed(
            {pair for pairs in self.roles.values() for pair in pairs}, ends)
        lags = []
        for role, pairs in self.roles.items():
            found = [(ends[topic], committed[(topic, group)]) for topic, group in pairs]
            running = any(c is not None for _, c in found)
            lags.append({"role": role, "groups": len(pairs),
                         "lag": sum(lag(e, c) for e, c in found) if running else None})
        total = sum(ends[events_topic].values())
        self.tally.read(ends)
        recent = self.tally.counts.newest()
        return {
            "measured_at": datetime.now(UTC), "events_topic": events_topic,
            "events_total": total, "events_per_s": self.rate.add(now, total),
            "lag": lags,
            "dead_letters": [{"topic": t, "reason": r, "count": n}
                             for (t, r), n in sorted(self.tally.counts.by_reason.items())],
            "dead_letters_complete": self.tally.complete,
            "recent_dead_letters": [{
                "reason": d.reason, "topic": d.topic, "partition": d.partition,
                "offset": d.offset, "at": datetime.fromtimestamp(d.timestamp_ms / 1000, UTC),
                "source_topic": d.source_topic, "source_partition": d.source_partition,
                "source_offset": d.source_offset} for d in recent],
        }

    def close(self) -> None:
        self.watch.close()
        self.tally.close()


def readings_of(app: FastAPI) -> PipelineReadings:
    """The app's readings, made on first use (an app nobody asks opens no clients)."""
    with app.state.pipeline_readings_lock:
        if app.state.pipeline_readings is None:
            app.state.pipeline_readings = PipelineReadings(app.state.settings)
        return app.state.pipeline_readings


def install_pipeline_health(app: FastAPI) -> None:
    """Adds the route, and closes the clients when the app shuts down."""
    app.state.pipeline_readings = None
    app.state.pipeline_readings_lock = threading.Lock()
    app.include_router(pipeline_health_router())

    # Around the app's lifespan (Starlette 1 has no shutdown event handlers): whatever
    # lifespan the app has runs inside, and the clients close after it ends.
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: Any) -> AsyncIterator[Any]:
        try:
            async with inner(running) as state:
                yield state
        finally:
            if app.state.pipeline_readings is not None:
                app.state.pipeline_readings.close()
                app.state.pipeline_readings = None

    app.router.lifespan_context = lifespan


def pipeline_health_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["operations"])

    # A plain def: the Kafka reads block, so FastAPI runs it on a worker thread.
    @router.get("/pipeline/health", response_model=PipelineHealth,
                responses={s: {"model": ErrorBody} for s in (401, 503)})
    def get_pipeline_health(request: Request, analyst: CurrentAnalyst) -> dict[str, Any]:
        """Events/s, consumer lag per role, dead letters by reason and the last ones
        (positions and reasons, never payloads); analysts only, refreshed every few
        seconds."""
        try:
            return readings_of(request.app).answer()
        except PipelineUnavailable as exc:  # the broker is down or slow: say so, do not 500
            # The Kafka error is in the log: its text (hosts, ports, client internals)
            # is not for the analysts' page.
            raise ApiError(503, "unavailable", str(exc),
                           headers={"Retry-After": str(exc.retry_after_s)}) from exc

    return router
