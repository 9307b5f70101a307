"""A simulated athlete: traits drawn from the seed, habits, breaks, and the daily decision
of what to do (hidden state: none of it reaches an event; see docs/simulator.md).

Each day the athlete looks at its plan week (fitstream/simulator/training_plan.py), its
weekly template (which weekdays it trains, which one holds the long run and which the
hard session, which sport each easy day habitually gets), whether it is on a break,
and the season; it then trains zero, one or (rarely) two sessions. A session's speed
comes from the athlete's threshold speed scaled by its Banister performance
(fitstream/simulator/fitness.py) on the morning of that day; its heart rate from the
intensity's share of the heart-rate reserve plus a fatigue term. Each session's TRIMP
then updates fitness and fatigue.

The athlete lives ``WARMUP_DAYS`` before the fleet's first day so that fitness, fatigue
and the plan are already under way when the events start.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from fitstream.simulator.fitness import BanisterModel, FitnessState, trimp
from fitstream.simulator.physiology import (
    EASY_ONLY_HRR,
    INTENSITY_HRR,
    LOAD_TRANSFER,
    OTHER_SPEED_FRACTION,
    RUNNING_SPEED_FRACTION,
    SPORTS,
)
from fitstream.simulator.training_plan import (
    RACE_DISTANCES_M,
    RACE_HRR_FRACTION,
    RACE_SPEED_FRACTION,
    PlanWeek,
    TrainingPlan,
    WeekKind,
)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WARMUP_DAYS = 56
HABITUAL_SHARE = 0.8
MODEL = BanisterModel()
CROSS_SPORTS = tuple(s for s in SPORTS if s != "running")
# Weekday weights for preferred training days (Monday first): weekends are popular.
WEEKDAY_WEIGHTS = (0.7, 1.0, 1.0, 1.0, 0.6, 1.1, 1.4)


@dataclass(frozen=True)
class AthleteTraits:
    """Everything fixed about an athlete, drawn once from the seed (hidden)."""

    user_id: str
    device_id: str
    weight_kg: float
    male: bool
    age: int
    resting_hr: float
    max_hr: float
    threshold_speed_mps: float  # running speed at threshold, at the reference fitness
    responsiveness: float  # speed gained per unit of relative performance
    roles: dict[int, str]  # weekday -> "long" | "hard" | "easy"
    day_sports: dict[int, str]  # weekday -> the sport an easy day habitually gets
    cross_sports: tuple[str, ...]
    sport_speed: dict[str, float]  # the athlete's usual speed per cross sport (m/s)
    easy_minutes: float
    long_ratio: float
    weekday_hour: float
    weekend_hour: float
    favourite_race: str
    build_weeks: int  # 3 for a 3:1 rhythm, 2 for 2:1
    season_amplitude: float
    season_peak_day: float  # day of year of the motivation peak
    break_gap_days: float  # mean days between breaks


@dataclass(frozen=True, slots=True)
class Session:
    """One planned workout, everything the device simulator needs to record it."""

    day: int  # days since the fleet's first day (negative: warm-up, never recorded)
    start_ms: int
    sport: str
    intensity: str
    minutes: float  # planned moving time (a race runs to its distance instead)
    race_distance_m: float | None
    speed_mps: float
    steady_hr: float
    resting_hr: float
    cancel_share: float | None  # cancelled after this share of the planned time
    pauses: int
    seed: int  # the workout's own random stream
    load: float  # TRIMP x transfer: what the session adds to fitness and fatigue


@dataclass(frozen=True, slots=True)
class AthleteDay:
    """The hidden state of one day, kept for tests and docs (never in events)."""

    day: int
    week: PlanWeek
    on_break: bool
    state: FitnessState  # at the end of the day, after its load
    load: float
    sessions: tuple[Session, ...]


def draw_traits(rng: random.Random, index: int) -> AthleteTraits:
    user_id = f"user-{index:05d}"
    device_id = f"device-{index:05d}-{rng.randint(1, 3)}"
    male = rng.random() < 0.55
    weight = rng.uniform(62, 98) if male else rng.uniform(50, 82)
    age = rng.randint(22, 52)
    max_hr = 208 - 0.7 * age + rng.gauss(0, 3)
    resting = rng.uniform(50, 68)
    per_week = rng.choices((2, 3, 4, 5, 6), weights=(1, 3, 3, 2, 1))[0]
    days = sorted(_weighted_sample(rng, range(7), WEEKDAY_WEIGHTS, per_week))
    long_day = 6 if 6 in days else 5 if 5 in days else days[-1]
    roles = {d: "easy" for d in days}
    roles[long_day] = "long"
    if per_week >= 3:
        midweek = [d for d in days if d in (1, 2, 3) and d != long_day]
        roles[midweek[0] if midweek else next(d for d in days if d != long_day)] = "hard"
    runner = rng.random() < 0.65
    running_share = rng.uniform(0.55, 0.9) if runner else rng.uniform(0.2, 0.45)
    cross = tuple(dict.fromkeys(rng.choices(
        CROSS_SPORTS, weights=[SPORTS[s].weight for s in CROSS_SPORTS], k=2)))
    day_sports = {d: "running" if rng.random() < running_share else rng.choice(cross)
                  for d in days}
    return AthleteTraits(
        user_id=user_id, device_id=device_id, weight_kg=weight, male=male, age=age,
        resting_hr=resting, max_hr=max_hr,
        threshold_speed_mps=3.3 * math.exp(rng.gauss(0, 0.13)),
        responsiveness=rng.uniform(0.08, 0.16),
        roles=roles, day_sports=day_sports, cross_sports=cross,
        sport_speed={s: SPORTS[s].speed_mps * (1 + rng.gauss(0, SPORTS[s].speed_spread))
                     for s in cross},
        easy_minutes=rng.uniform(28, 55), long_ratio=rng.uniform(1.5, 2.1),
        weekday_hour=rng.choice((6, 7, 12, 17, 18, 19)), weekend_hour=rng.choice((8, 9, 10)),
        favourite_race=rng.choices(list(RACE_DISTANCES_M), weights=(5, 4, 2))[0],
        build_weeks=3 if rng.random() < 0.75 else 2,
        season_amplitude=rng.uniform(0.05, 0.2), season_peak_day=rng.gauss(175, 25),
        break_gap_days=rng.uniform(60, 180),
    )


def _weighted_sample(rng: random.Random, items: range, weights: tuple[float, ...],
                     k: int) -> list[int]:
    pool, w, chosen = list(items), list(weights), []
    for _ in range(k):
        pick = rng.choices(range(len(pool)), weights=w)[0]
        chosen.append(pool.pop(pick))
        w.pop(pick)
    return chosen


class BreakSchedule:
    """Breaks of one or two weeks (illness, travel), drawn lazily from their own stream."""

    def __init__(self, rng: random.Random, first_day: int, mean_gap_days: float) -> None:
        self._rng = rng
        self._mean_gap = mean_gap_days
        self._spans: list[tuple[int, int]] = []  # [start, end) in fleet days
        self._next_from = first_day + int(rng.expovariate(1 / mean_gap_days))

    def covers(self, day: int) -> bool:
        """Whether ``day`` falls in a break (asked in increasing day order or not)."""
        while self._next_from <= day:
            start = self._next_from
            length = 7 if self._rng.random() < 0.65 else 14
            self._spans.append((start, start + length))
            # At least three weeks of training between two breaks.
            self._next_from = start + length + 21 + int(self._rng.expovariate(1 / self._mean_gap))
        return any(start <= day < end for start, end in self._spans)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The breaks drawn so far, [start, end) in fleet days."""
        return list(self._spans)


class Athlete:
    """One athlete's life, day by day, from ``-WARMUP_DAYS`` on (deterministic per seed)."""

    def __init__(self, seed: int, index: int, start_ms: int) -> None:
        rng = random.Random(f"{seed}:{index}")
        self.traits = traits = draw_traits(rng, index)
        self._start_ms = start_ms
        self._epoch_day = start_ms // DAY_MS
        self._day_rng = random.Random(rng.getrandbits(64))
        first = -WARMUP_DAYS
        monday = first - (self._epoch_day + first + 3) % 7  # 1970-01-01 was a Thursday
        # Already somewhere inside a cycle when the warm-up starts.
        self._plan_origin = monday - 7 * rng.randint(0, 10)
        self._plan = TrainingPlan(random.Random(rng.getrandbits(64)), traits.favourite_race,
                                  traits.build_weeks)
        self._breaks = BreakSchedule(random.Random(rng.getrandbits(64)), first,
                                     traits.break_gap_days)
        # The habitual load: the weekly template at the share an athlete really does
        # (skipped days, recovery and race weeks); build weeks ask for more than this.
        self.reference_load = HABITUAL_SHARE * self._habitual_daily_load()
        reference = MODEL.steady_state(self.reference_load)
        self._reference_performance = MODEL.performance(reference)
        self._reference_fatigue = reference.fatigue
        self.state = reference

    # -- the hidden physiology ------------------------------------------------------

    def hrr_fraction(self, sport: str, intensity: str) -> float:
        return EASY_ONLY_HRR.get(sport, INTENSITY_HRR[intensity])

    def performance_factor(self, state: FitnessState) -> float:
        """Speed multiplier: 1 at the habitual steady state, higher when fitter."""
        relative = (MODEL.performance(state) - self._reference_performance) / abs(
            self._reference_performance)
        return min(1.25, max(0.8, 1.0 + self.traits.responsiveness * relative))

    def fatigue_bpm(self, state: FitnessState) -> float:
        """Fatigue raises the heart rate at a given effort: 3 bpm at the habitual level."""
        return min(8.0, 3.0 * state.fatigue / self._reference_fatigue)

    def _habitual_daily_load(self) -> float:
        t = self.traits
        weekly = 0.0
        for weekday, role in t.roles.items():
            sport = "running" if role != "easy" else t.day_sports[weekday]
            intensity = "hard" if role == "hard" else "easy"
            weekly += trimp(self._minutes(role, sport), self.hrr_fraction(sport, intensity),
                            t.male) * LOAD_TRANSFER[sport]
        return weekly / 7

    def _minutes(self, role: str, sport: str) -> float:
        t = self.traits
        if role == "long":
            return t.easy_minutes * t.long_ratio
        if role == "hard":
            return t.easy_minutes * 0.85 + 5
        if sport == "running":
            return t.easy_minutes
        low, high = SPORTS[sport].minutes
        return (low + high) / 2

    # -- the days -------------------------------------------------------------------

    def days(self, count: int) -> Iterator[AthleteDay]:
        """Days ``-WARMUP_DAYS`` .. ``count - 1``, each after its sessions' load."""
        for day in range(-WARMUP_DAYS, count):
            week = self._plan.week((day - self._plan_origin) // 7)
            on_break = self._breaks.covers(day)
            sessions = () if on_break else tuple(self._decide(day, week))
            load = sum(s.load for s in sessions)
            self.state = self.state.next_day(MODEL, load)
            yield AthleteDay(day, week, on_break, self.state, load, sessions)

    def motivation(self, day: int) -> float:
        """The slow seasonal swing: 1 +- amplitude, peaking on the athlete's day of year."""
        day_of_year = (self._epoch_day + day) % 365.2425
        angle = 2 * math.pi * (day_of_year - self.traits.season_peak_day) / 365.2425
        return 1.0 + self.traits.season_amplitude * math.cos(angle)

    def _decide(self, day: int, week: PlanWeek) -> list[Session]:
        rng, t = self._day_rng, self.traits
        weekday = (self._epoch_day + day + 3) % 7
        motivation = self.motivation(day)
        race = week.race
        if race is not None and weekday == race.weekday:
            return [self._race(day, race.distance)]
        role = t.roles.get(weekday)
        if role is not None:
            if week.kind is WeekKind.RACE:
                if race is not None and weekday > race.weekday:
                    return []  # after the race: rest
                role = "easy" if role != "hard" else "sharpen"
            elif week.kind in (WeekKind.RECOVERY, WeekKind.POST_RACE) and role != "easy":
                role = "easy"
            skip = 0.07 + 0.5 * max(0.0, 1.0 - motivation)
            if rng.random() < skip:
                return []
            return [self._session(day, role, weekday, week.load_factor * motivation)]
        if rng.random() < 0.05 * motivation:
            sport = rng.choice(t.cross_sports) if rng.random() < 0.7 else "running"
            return [self._session(day, "extra", weekday, week.load_factor, sport)]
        return []

    def _session(self, day: int, role: str, weekday: int, volume: float,
                 sport: str | None = None) -> Session:
        rng, t = self._day_rng, self.traits
        if sport is None:
            if role in ("long", "hard", "sharpen"):
                sport = "running"
            elif rng.random() < 0.85:
                sport = t.day_sports[weekday]
            else:
                sport = rng.choice(("running", *t.cross_sports))
        if role == "hard":
            intensity = "hard"
        elif role == "sharpen":
            intensity = "moderate"
        elif sport in EASY_ONLY_HRR:
            intensity = "easy"
        else:
            intensity = "easy" if rng.random() < 0.75 else "moderate"
        base_role = "hard" if role == "sharpen" else "long" if role == "long" else "easy"
        minutes = self._minutes(base_role, sport) * volume * math.exp(rng.gauss(0, 0.12))
        # Short hard sessions would spend most of their time with the heart still rising.
        minutes = min(200.0, max(25.0 if intensity == "hard" else 12.0, minutes))
        perf = self.performance_factor(self.state)
        if sport == "running":
            speed = t.threshold_speed_mps * RUNNING_SPEED_FRACTION[intensity] * perf
        else:
            speed = t.sport_speed[sport] * OTHER_SPEED_FRACTION[intensity] * perf
        hrr = self.hrr_fraction(sport, intensity)
        hour = t.weekend_hour if weekday >= 5 else t.weekday_hour
        start = self._start_ms + day * DAY_MS + int((hour + rng.uniform(0, 1.5)) * HOUR_MS)
        cancel = rng.uniform(0.1, 0.6) if rng.random() < 0.04 else None
        load = trimp(minutes * (cancel or 1.0), hrr, t.male) * LOAD_TRANSFER[sport]
        return Session(day, start, sport, intensity, minutes, None, max(0.3, speed),
                       self._steady_hr(hrr), t.resting_hr, cancel,
                       # Hard sessions are done without stopping (a pause would let the
                       # heart rate fall out of the hard band).
                       0 if intensity == "hard" else rng.choice((0, 0, 0, 1, 1, 2)),
                       rng.getrandbits(64), load)

    def _race(self, day: int, distance: str) -> Session:
        rng, t = self._day_rng, self.traits
        speed = (t.threshold_speed_mps * RACE_SPEED_FRACTION[distance]
                 * self.performance_factor(self.state))
        minutes = RACE_DISTANCES_M[distance] / speed / 60
        hrr = RACE_HRR_FRACTION[distance]
        start = self._start_ms + day * DAY_MS + int((9 + rng.choice((0, 0.5, 1))) * HOUR_MS)
        return Session(day, start, "running", "hard", minutes, RACE_DISTANCES_M[distance],
                       speed, self._steady_hr(hrr), t.resting_hr, None, 0,
                       rng.getrandbits(64), trimp(minutes, hrr, t.male))

    def _steady_hr(self, hrr: float) -> float:
        t = self.traits
        return t.resting_hr + hrr * (t.max_hr - t.resting_hr) + self.fatigue_bpm(self.state)
