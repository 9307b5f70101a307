"""An athlete's periodised plan: build and recovery weeks towards a running race, a
taper before it, and an easy week after it; then the next cycle (pure, hidden state).

A cycle is ``blocks`` mesocycles of ``build_weeks`` build weeks and one recovery week
(3:1 or 2:1), then the taper (one week before a 5 km or 10 km, two before a half
marathon), the race week (the race on its Saturday or Sunday) and one easy week. Each
week has a load factor: the share of the athlete's habitual weekly training it asks for.
Build weeks climb within a block and from block to block; recovery, taper, race and
post-race weeks drop well below the build weeks before them.

Weeks are numbered from the plan's origin (a Monday); the plan is drawn lazily, cycle by
cycle, from its own random generator, so the same seed gives the same plan however many
weeks are asked for.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

RACE_DISTANCES_M: dict[str, float] = {"5k": 5000.0, "10k": 10_000.0,
                                      "half_marathon": 21_097.5}
# Race pace as a share of the athlete's threshold speed (about their one-hour race pace).
RACE_SPEED_FRACTION: dict[str, float] = {"5k": 1.05, "10k": 1.0, "half_marathon": 0.94}
# Race heart rate as a share of the heart-rate reserve (all three are hard efforts).
RACE_HRR_FRACTION: dict[str, float] = {"5k": 0.93, "10k": 0.91, "half_marathon": 0.88}
TAPER_WEEKS: dict[str, int] = {"5k": 1, "10k": 1, "half_marathon": 2}

RECOVERY_LOAD = 0.65
RACE_WEEK_LOAD = 0.45
POST_RACE_LOAD = 0.6
# The taper's weeks, last one nearest the race.
TAPER_LOADS: dict[int, tuple[float, ...]] = {1: (0.6,), 2: (0.75, 0.55)}


class WeekKind(enum.StrEnum):
    BUILD = "build"
    RECOVERY = "recovery"
    TAPER = "taper"
    RACE = "race"
    POST_RACE = "post_race"


@dataclass(frozen=True, slots=True)
class Race:
    """A target race: its distance name (a RACE_DISTANCES_M key) and its weekday (5, 6)."""

    distance: str
    weekday: int

    @property
    def distance_m(self) -> float:
        return RACE_DISTANCES_M[self.distance]


@dataclass(frozen=True, slots=True)
class PlanWeek:
    index: int  # weeks since the plan's origin
    kind: WeekKind
    load_factor: float  # share of the habitual weekly load
    race: Race | None  # set on race weeks only (the race of the cycle on other weeks too)


class TrainingPlan:
    """The plan's weeks, drawn cycle by cycle; ``week(n)`` for any n >= 0."""

    def __init__(self, rng: random.Random, preferred: str, build_weeks: int) -> None:
        self._rng = rng
        self._preferred = preferred  # the athlete's favourite race distance
        self._build_weeks = build_weeks  # 3 for a 3:1 rhythm, 2 for 2:1
        self._weeks: list[PlanWeek] = []

    def week(self, index: int) -> PlanWeek:
        if index < 0:
            raise ValueError(f"plan weeks start at 0, not {index}")
        while len(self._weeks) <= index:
            self._draw_cycle()
        return self._weeks[index]

    def _draw_cycle(self) -> None:
        rng = self._rng
        distances = list(RACE_DISTANCES_M)
        distance = self._preferred if rng.random() < 0.6 else rng.choice(distances)
        race = Race(distance, rng.choice((5, 6, 6)))
        blocks = rng.randint(1, 3) if distance != "half_marathon" else rng.randint(2, 3)
        weeks: list[tuple[WeekKind, float, Race | None]] = []
        for block in range(blocks):
            for step in range(self._build_weeks):
                # Progressive overload: +6 % a week within a block, +5 % a block.
                weeks.append((WeekKind.BUILD, 1.0 + 0.06 * step + 0.05 * block, None))
            if block < blocks - 1:
                weeks.append((WeekKind.RECOVERY, RECOVERY_LOAD, None))
        weeks += [(WeekKind.TAPER, load, None) for load in TAPER_LOADS[TAPER_WEEKS[distance]]]
        weeks.append((WeekKind.RACE, RACE_WEEK_LOAD, race))
        weeks.append((WeekKind.POST_RACE, POST_RACE_LOAD, None))
        for kind, load, week_race in weeks:
            self._weeks.append(PlanWeek(len(self._weeks), kind, load, week_race))
