"""A deterministic fleet of devices: users, their workouts and the records they send.

Each user is an athlete (fitstream/simulator/athlete.py: a plan towards a race, Banister
fitness and fatigue, habits, breaks, a seasonal swing; docs/simulator.md) whose random
generators are seeded by (seed, user), so the same seed gives the same log whatever the
other knobs. The athlete decides what to train; this module records it as a device
would, and only what a device measures reaches the events. Records come out in delivery order:
the order the devices' syncs reach the broker, which is not event order when a
device was offline (late), re-sent a sync (duplicate) or raced itself
(out of order).
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fitstream.domain.events import EventType
from fitstream.simulator.athlete import Athlete, Session
from fitstream.simulator.physiology import (
    SPORTS,
    calories,
    heart_rate,
    session_heart_rate,
)

DAY_MS = 86_400_000
METRES_PER_DEGREE = 111_320.0
# The city the fleet lives in (Berlin, Tiergarten).
CITY_CENTRE = (52.5145, 13.3501)


@dataclass(frozen=True)
class ChaosKnobs:
    """Shares of records (or, for late, of workouts) that misbehave like real devices."""

    duplicate: float = 0.01
    out_of_order: float = 0.01
    late: float = 0.02
    malformed: float = 0.001


@dataclass(frozen=True)
class FleetSpec:
    users: int
    days: int
    seed: int
    start_ms: int  # midnight UTC of the first day
    chaos: ChaosKnobs = field(default_factory=ChaosKnobs)


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One record as a device sends it: an event, or bytes that are not one."""

    delivered_at: int
    key: str
    event: dict[str, Any] | None
    raw: bytes | None = None  # set for malformed records only
    duplicate: bool = False


@dataclass
class FleetTally:
    records: int = 0
    events: int = 0
    samples: int = 0
    workouts: int = 0
    completed: int = 0
    cancelled: int = 0
    duplicates: int = 0
    malformed: int = 0
    late_workouts: int = 0
    completed_ids: list[str] = field(default_factory=list)


class Workout:
    """Everything one recorded session sends, built on demand."""

    def __init__(self, session: Session, user_id: str, device_id: str,
                 weight_kg: float) -> None:
        self.session = session
        self.rng = rng = random.Random(session.seed)
        self.user_id = user_id
        self.device_id = device_id
        self.weight_kg = weight_kg
        self.profile = SPORTS[session.sport]
        self.start_ms = session.start_ms
        self.workout_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.seq = 0

    def _event(self, kind: EventType, occurred_at: int, **payload: Any) -> dict[str, Any]:
        event = {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "type": kind.value,
            "occurred_at": occurred_at,
            "user_id": self.user_id,
            "workout_id": self.workout_id,
            "device_id": self.device_id,
            "seq": self.seq,
            **payload,
        }
        self.seq += 1
        return event

    def events(self) -> list[dict[str, Any]]:
        rng, profile, session = self.rng, self.profile, self.session
        lat = CITY_CENTRE[0] + rng.uniform(-0.04, 0.04)
        lon = CITY_CENTRE[1] + rng.uniform(-0.06, 0.06)
        heading = rng.uniform(0, 2 * math.pi)
        elevation = rng.uniform(30, 60)
        # A race runs until its distance is covered; anything else for its planned time.
        race_m = session.race_distance_m
        duration_s = math.inf if race_m is not None else max(60, round(session.minutes * 60))
        cancel_at = (session.cancel_share * duration_s
                     if session.cancel_share is not None else None)
        pauses = sorted(rng.uniform(0.15, 0.85) * duration_s for _ in range(session.pauses))
        # Races hold their pace; training wobbles more.
        wobble = 0.03 if race_m is not None else 0.08
        events = [self._event(EventType.STARTED, self.start_ms, sport_type=profile.sport,
                              start_time=self.start_ms,
                              location={"latitude": round(lat, 6), "longitude": round(lon, 6)},
                              device_model=rng.choice(("FitBand 4", "RunWatch Pro", "PhoneApp")))]
        route: list[dict[str, float]] = [{"lat": round(lat, 6), "lon": round(lon, 6)}]
        samples: list[dict[str, Any]] = []
        sync_after = rng.randint(5, 20)
        now_ms, moving_s, distance = self.start_ms, 0.0, 0.0
        # Racers warm up before the start; anyone else starts from near rest.
        hr = session.steady_hr - 25 if race_m is not None else session.resting_hr + 15
        dt = profile.sample_interval_s
        speed_phase = rng.uniform(0, 2 * math.pi)

        def flush() -> None:
            nonlocal sync_after
            if samples:
                last = samples[-1]
                events.append(self._event(
                    EventType.UPDATED, now_ms, current_distance_meters=last["distance_meters"],
                    avg_heart_rate=None, heart_rate=last["heart_rate"],
                    current_speed=last["speed"], position={"lat": last["lat"], "lon": last["lon"]},
                    elevation_meters=last["elevation_meters"], samples=list(samples)))
                samples.clear()
            sync_after = rng.randint(5, 20)

        while moving_s < duration_s and (race_m is None or distance < race_m):
            if cancel_at is not None and moving_s >= cancel_at:
                flush()
                events.append(self._event(EventType.CANCELLED, now_ms,
                                          reason=rng.choice(("user_discarded", "gps_lost", None))))
                return events
            if pauses and moving_s >= pauses[0]:
                pauses.pop(0)
                flush()
                events.append(self._event(EventType.PAUSED, now_ms))
                pause_ms = rng.randint(30, 300) * 1000
                hr = heart_rate(hr, session.resting_hr + 20, pause_ms / 1000)
                now_ms += pause_ms
                events.append(self._event(EventType.RESUMED, now_ms))
            now_ms += dt * 1000
            moving_s += dt
            ratio = 1.0 + wobble * math.sin(moving_s / 150.0 + speed_phase) + rng.gauss(0, 0.03)
            speed = max(0.3, session.speed_mps * ratio)
            distance += speed * dt
            heading += rng.gauss(0, 0.08)
            lat += speed * dt * math.cos(heading) / METRES_PER_DEGREE
            lon += speed * dt * math.sin(heading) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
            elevation = max(0.0, elevation + rng.gauss(0, 0.3))
            hr = heart_rate(hr, session_heart_rate(session.steady_hr, session.resting_hr,
                                                   ratio, moving_s), dt)
            samples.append({
                "offset_ms": now_ms - self.start_ms,
                "distance_meters": round(distance, 1),
                "heart_rate": round(hr) if rng.random() > 0.01 else None,
                "speed": round(speed, 2),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "elevation_meters": round(elevation, 1),
            })
            if int(moving_s) % (5 * dt) == 0:
                route.append({"lat": round(lat, 6), "lon": round(lon, 6)})
            if len(samples) >= sync_after:
                flush()
        flush()
        events.append(self._event(
            EventType.COMPLETED, now_ms, end_time=now_ms, duration_sec=int(moving_s),
            distance_meters=round(distance, 1),
            calories_burned=calories(self.profile, self.weight_kg, moving_s),
            route_coordinates=route))
        return events


def _user_workouts(spec: FleetSpec, index: int) -> Iterator[Workout]:
    athlete = Athlete(spec.seed, index, spec.start_ms)
    traits = athlete.traits
    for day in athlete.days(spec.days):
        if day.day < 0:
            continue  # the warm-up: the athlete trained, but before the fleet's log
        for session in day.sessions:
            yield Workout(session, traits.user_id, traits.device_id, traits.weight_kg)


def _deliveries(workout: Workout, chaos: ChaosKnobs, tally: FleetTally) -> list[DeviceRecord]:
    """The workout's records in the order its device delivers them."""
    rng = workout.rng
    events = workout.events()
    tally.workouts += 1
    tally.events += len(events)
    tally.samples += sum(len(e.get("samples", ())) for e in events)
    last = events[-1]["type"]
    if last == EventType.COMPLETED:
        tally.completed += 1
        tally.completed_ids.append(workout.workout_id)
    tally.cancelled += last == EventType.CANCELLED
    times = [e["occurred_at"] for e in events]
    if rng.random() < chaos.late:
        # Offline device: the whole workout syncs hours after it happened.
        delay = rng.randint(1, 6) * 3_600_000
        times = [t + delay for t in times]
        tally.late_workouts += 1
    order = list(events)
    for i in range(len(order) - 1):
        if rng.random() < chaos.out_of_order:
            order[i], order[i + 1] = order[i + 1], order[i]
    records: list[DeviceRecord] = []
    for at, event in zip(times, order, strict=True):
        records.append(DeviceRecord(at, workout.user_id, event))
        if rng.random() < chaos.duplicate:
            records.append(DeviceRecord(at, workout.user_id, event, duplicate=True))
            tally.duplicates += 1
        if rng.random() < chaos.malformed:
            # Never the wire format's magic byte (0x00) first: such bytes are dead-lettered
            # unknown_schema, not malformed, and the tally counts them as malformed.
            records.append(DeviceRecord(at, workout.user_id, None, raw=b"\xff" + rng.randbytes(
                rng.randint(0, 63))))
            tally.malformed += 1
    return records


def simulate_fleet(spec: FleetSpec, tally: FleetTally | None = None,
                   users: Iterable[int] | None = None) -> Iterator[DeviceRecord]:
    """Every record of the fleet, in delivery order (deterministic for a spec).

    ``users`` (indices below ``spec.users``) keeps only those athletes: each user's
    records are the same, in the same order, as in the whole fleet's log (athletes and
    workouts draw from their own seeded generators, and the merge orders by delivery
    time then by workout), so a large fleet can be built a slice of users at a time."""
    tally = tally if tally is not None else FleetTally()
    workouts = sorted(
        (w for i in (range(spec.users) if users is None else users)
         for w in _user_workouts(spec, i)),
        key=lambda w: (w.start_ms, w.workout_id),
    )
    # A workout's records are built when the merge reaches its start, so memory
    # holds the workouts in flight, not the whole fleet.
    pending: list[tuple[int, int, list[DeviceRecord]]] = []
    next_workout = 0
    while next_workout < len(workouts) or pending:
        if next_workout < len(workouts) and (
            not pending or workouts[next_workout].start_ms <= pending[0][0]
        ):
            records = _deliveries(workouts[next_workout], spec.chaos, tally)
            records.sort(key=lambda r: r.delivered_at)
            heapq.heappush(pending, (records[0].delivered_at, next_workout, records))
            next_workout += 1
            continue
        _, order, records = heapq.heappop(pending)
        record = records.pop(0)
        tally.records += 1
        yield record
        if records:
            heapq.heappush(pending, (records[0].delivered_at, order, records))
