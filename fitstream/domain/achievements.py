"""Achievements: a catalogue of rules as data, and one user's progress towards each.

Every rule is an :class:`AchievementRule` of one :class:`RuleKind`; adding an
achievement is adding a line to :data:`CATALOGUE`. Progress runs from 0 to 1 per
rule; reaching 1 unlocks the rule, exactly once per user, and the unlock remembers
the workout that caused it so that it can be re-sent (never re-unlocked) when that
workout is seen again after a crash.

Personal records are the fastest 1, 5 and 10 km inside any running workout (see
best_efforts). The first one unlocks the rule; every later improvement replaces
the record and is announced as a :class:`PersonalRecord`.

Facts kept per user: completed workouts counted (by id), running distance totals,
the best single run, best efforts, the UTC days with a workout, and workouts per
ISO week. Streaks are runs of consecutive UTC days; the weekly goal is a number of
workouts in one ISO week. Both are computed from the set of days, so the order
workouts arrive in does not change them.

Bounded state: the ids of counted workouts are kept while the workout's session is
(session_batch.py, retirement), as the leaderboards keep theirs (leaderboards.py says
why that is safe): a re-delivered completion finds its id and re-sends what it caused;
a counted id with another ``finished_at`` than the completion's is a new workout that
reused the id. The days and weeks with a workout are kept from the horizon no
completion that is not late can reach behind (the settled clock minus the allowed
lateness and the bounds' reach, as for the leaderboards), the days with the longest
streak rule's length more, since a run through the horizon can grow; ``best_streak``
and ``best_week`` hold the longest streak and the busiest week among what was dropped
and before. Streaks and week counts only grow, so progress is exactly what the whole
history gives (a run longer than the longest streak rule counts as that rule's length
or more, and every streak rule is then at 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fitstream.domain.event_bounds import bucket_reach_ms
from fitstream.domain.leaderboards import finished_at, forget_retired
from fitstream.domain.views import WorkoutSummary
from fitstream.domain.windows import LeaderboardWindow

DAY_MS = 86_400_000


class RuleKind(StrEnum):
    FIRST_WORKOUT = "first_workout"  # threshold: workouts
    SINGLE_DISTANCE = "single_distance"  # threshold: metres in one workout
    CUMULATIVE_DISTANCE = "cumulative_distance"  # threshold: metres in total
    PERSONAL_RECORD = "personal_record"  # threshold: the distance of the effort, metres
    STREAK = "streak"  # threshold: consecutive days
    WEEKLY_GOAL = "weekly_goal"  # threshold: workouts in one ISO week


@dataclass(frozen=True)
class AchievementRule:
    rule_id: str
    kind: RuleKind
    title: str
    threshold: float
    sport: str | None = None  # None: every sport counts


CATALOGUE: tuple[AchievementRule, ...] = (
    AchievementRule("first-workout", RuleKind.FIRST_WORKOUT, "First workout", 1),
    AchievementRule("run-5k", RuleKind.SINGLE_DISTANCE, "5 km run", 5000, "running"),
    AchievementRule("run-10k", RuleKind.SINGLE_DISTANCE, "10 km run", 10_000, "running"),
    AchievementRule("run-half-marathon", RuleKind.SINGLE_DISTANCE, "Half marathon", 21_097.5,
                    "running"),
    AchievementRule("run-marathon", RuleKind.SINGLE_DISTANCE, "Marathon", 42_195, "running"),
    AchievementRule("total-100km", RuleKind.CUMULATIVE_DISTANCE, "100 km in total", 100_000),
    AchievementRule("total-1000km", RuleKind.CUMULATIVE_DISTANCE, "1,000 km in total",
                    1_000_000),
    AchievementRule("total-10000km", RuleKind.CUMULATIVE_DISTANCE, "10,000 km in total",
                    10_000_000),
    AchievementRule("pr-1k", RuleKind.PERSONAL_RECORD, "Fastest 1 km", 1000, "running"),
    AchievementRule("pr-5k", RuleKind.PERSONAL_RECORD, "Fastest 5 km", 5000, "running"),
    AchievementRule("pr-10k", RuleKind.PERSONAL_RECORD, "Fastest 10 km", 10_000, "running"),
    AchievementRule("streak-3", RuleKind.STREAK, "3-day streak", 3),
    AchievementRule("streak-7", RuleKind.STREAK, "7-day streak", 7),
    AchievementRule("streak-30", RuleKind.STREAK, "30-day streak", 30),
    AchievementRule("weekly-goal", RuleKind.WEEKLY_GOAL, "3 workouts in a week", 3),
)
RULES = {rule.rule_id: rule for rule in CATALOGUE}
_EFFORT_FIELD = {1000: "best_1k_ms", 5000: "best_5k_ms", 10_000: "best_10k_ms"}


def achievement_id(user_id: str, rule_id: str) -> str:
    return f"{user_id}:{rule_id}"


def longest_streak(days: Iterable[int]) -> int:
    """The longest run of consecutive day numbers."""
    best = run = 0
    previous = None
    for day in sorted(set(days)):
        run = run + 1 if previous is not None and day == previous + 1 else 1
        best = max(best, run)
        previous = day
    return best


@dataclass
class AchievementChanges:
    """What one workout changed for its user: events to send and progress to store."""

    unlocked: list[dict[str, Any]]
    records: list[dict[str, Any]]
    progress: list[dict[str, Any]]


class UserAchievements:
    __slots__ = ("best_efforts", "best_run_m", "best_streak", "best_week", "counted", "days",
                 "distance_mm", "progress", "unlocked", "user_id", "weeks", "workouts")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        # workout id -> its last event time, for the workouts already counted.
        self.counted: dict[str, int] = {}
        self.workouts = 0
        # Integer millimetres: a float total depends on the order workouts arrive in.
        self.distance_mm = 0
        self.best_run_m = 0.0
        # str(distance) -> [elapsed ms, workout id, achieved at, previous ms or None]
        self.best_efforts: dict[str, list[Any]] = {}
        self.days: list[int] = []
        self.weeks: dict[str, int] = {}
        # The longest streak and the most workouts in a week so far (see the module
        # docstring: days and weeks behind the horizon are dropped).
        self.best_streak = 0
        self.best_week = 0
        self.progress: dict[str, float] = {}
        # rule id -> [achieved at, workout id]
        self.unlocked: dict[str, list[Any]] = {}

    def to_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> UserAchievements:
        achievements = cls.__new__(cls)
        for name in cls.__slots__:
            # State stored before the bests existed holds every day and week.
            setattr(achievements, name,
                    state.get(name, 0) if name in ("best_streak", "best_week") else state[name])
        return achievements

    def add_workout(self, summary: WorkoutSummary) -> AchievementChanges:
        """Count a completed workout once; a repeat returns what it caused, to re-send."""
        workout_id = summary["workout_id"]
        if summary["status"] != "completed":
            return AchievementChanges([], [], [])
        if self.counted.get(workout_id) == finished_at(summary):
            return AchievementChanges(
                [self._unlock_event(r, *v) for r, v in self.unlocked.items()
                 if v[1] == workout_id],
                [self._record_event(int(d), v[3], v[0], v[1], v[2])
                 for d, v in self.best_efforts.items()
                 if v[1] == workout_id and v[3] is not None],
                self.progress_rows())
        at = summary["end_time"]
        self.counted[workout_id] = finished_at(summary)
        running = summary["sport_type"] == "running"
        self.workouts += 1
        self.distance_mm += round(summary["distance_meters"] * 1000)
        day = summary["start_time"] // DAY_MS
        if day not in self.days:
            self.days.append(day)
            self.days.sort()
        week = LeaderboardWindow.WEEK.period_of(summary["start_time"])
        self.weeks[week] = self.weeks.get(week, 0) + 1
        records = []
        if running:
            self.best_run_m = max(self.best_run_m, summary["distance_meters"])
            for distance, field in _EFFORT_FIELD.items():
                elapsed = summary.get(field)
                previous = self.best_efforts.get(str(distance))
                if elapsed is not None and (previous is None or elapsed < previous[0]):
                    before = previous[0] if previous else None
                    self.best_efforts[str(distance)] = [elapsed, workout_id, at, before]
                    records.append(self._record_event(distance, before, elapsed, workout_id, at))
        unlocked = []
        for rule in CATALOGUE:
            value = self._progress(rule)
            self.progress[rule.rule_id] = value
            if value >= 1.0 and rule.rule_id not in self.unlocked:
                self.unlocked[rule.rule_id] = [at, workout_id]
                unlocked.append(self._unlock_event(rule.rule_id, at, workout_id))
        # A first record is the PR rule's unlock; only improvements are announced.
        records = [r for r in records if r["previous_ms"] is not None]
        return AchievementChanges(unlocked, records, self.progress_rows())

    def prune(self, settled_clock: int, allowed_lateness_ms: int) -> None:
        """Forget the ids of retired workouts, and the days and weeks no completion that
        is not late can change (see the module docstring)."""
        horizon = settled_clock - allowed_lateness_ms - bucket_reach_ms()
        self.counted = forget_retired(self.counted, horizon)
        first_day = horizon // DAY_MS - _LONGEST_STREAK_RULE
        if self.days and self.days[0] < first_day:
            self.best_streak = max(self.best_streak, longest_streak(self.days))
            self.days = [day for day in self.days if day >= first_day]
        # ISO week keys sort in time order: the weeks before the horizon's have ended.
        horizon_week = LeaderboardWindow.WEEK.period_of(horizon)
        closed = [week for week in self.weeks if week < horizon_week]
        if closed:
            self.best_week = max(self.best_week, *(self.weeks[w] for w in closed))
            for week in closed:
                del self.weeks[week]

    def _progress(self, rule: AchievementRule) -> float:
        if rule.rule_id in self.unlocked:
            return 1.0
        if rule.kind is RuleKind.FIRST_WORKOUT:
            value = self.workouts
        elif rule.kind is RuleKind.SINGLE_DISTANCE:
            value = self.best_run_m
        elif rule.kind is RuleKind.CUMULATIVE_DISTANCE:
            value = self.distance_mm / 1000
        elif rule.kind is RuleKind.PERSONAL_RECORD:
            if str(int(rule.threshold)) in self.best_efforts:
                return 1.0
            # Only a timed effort (from samples) sets a record; until then progress is
            # the longest run's share of the distance, short of 1.
            return min(0.9999, round(self.best_run_m / rule.threshold, 4))
        elif rule.kind is RuleKind.STREAK:
            value = max(self.best_streak, longest_streak(self.days))
        else:
            value = max(self.best_week, max(self.weeks.values(), default=0))
        return min(1.0, round(value / rule.threshold, 4))

    def progress_rows(self) -> list[dict[str, Any]]:
        return [{"user_id": self.user_id, "rule_id": rule.rule_id, "kind": rule.kind.value,
                 "title": rule.title, "progress": self.progress.get(rule.rule_id, 0.0),
                 "achieved_at": self.unlocked.get(rule.rule_id, [None])[0],
                 "version": self.workouts}
                for rule in CATALOGUE]

    def _unlock_event(self, rule_id: str, at: int, workout_id: str) -> dict[str, Any]:
        rule = RULES[rule_id]
        return {"achievement_id": achievement_id(self.user_id, rule_id), "rule_id": rule_id,
                "type": rule.kind.value, "title": rule.title, "user_id": self.user_id,
                "achieved_at": at, "progress": 1.0, "workout_id": workout_id}

    def _record_event(self, distance: int, previous_ms: int | None, elapsed_ms: int,
                      workout_id: str, at: int) -> dict[str, Any]:
        return {"record_id": f"{self.user_id}:pr-{distance}:{workout_id}",
                "user_id": self.user_id, "distance_meters": distance,
                "elapsed_ms": elapsed_ms, "previous_ms": previous_ms,
                "workout_id": workout_id, "achieved_at": at}


_LONGEST_STREAK_RULE = int(max(r.threshold for r in CATALOGUE if r.kind is RuleKind.STREAK))


AchievementsLoader = Callable[[str], UserAchievements | None]


def apply_completed_workouts(
    summaries: Iterable[WorkoutSummary], load: AchievementsLoader,
    settled_clock: Callable[[str], int] | None = None, allowed_lateness_ms: int = 0,
) -> tuple[dict[str, UserAchievements], AchievementChanges]:
    """Feed every touched completed workout to its user's achievements (see add_workout);
    with ``settled_clock`` (a user's settled clock: fitstream/domain/event_time.py), then
    forget the ids of their retired workouts."""
    users: dict[str, UserAchievements] = {}
    total = AchievementChanges([], [], [])
    progress: dict[tuple[str, str], dict[str, Any]] = {}
    for summary in summaries:
        if summary["status"] != "completed":
            continue
        user_id = summary["user_id"]
        achievements = users.get(user_id) or load(user_id) or UserAchievements(user_id)
        users[user_id] = achievements
        changes = achievements.add_workout(summary)
        total.unlocked += changes.unlocked
        total.records += changes.records
        for row in changes.progress:
            progress[(row["user_id"], row["rule_id"])] = row
    total.progress = list(progress.values())
    if settled_clock is not None:
        for user_id, achievements in users.items():
            achievements.prune(settled_clock(user_id), allowed_lateness_ms)
    return users, total
