"""Issue 9 finding 14: a completion for a pruned period must never overwrite it with a
smaller total. Workouts run through the processor's domain path (apply_batch, then
count_completed_workouts with each user's settled clock, pruning as it goes), and the
entries land in a store that keeps, per board, the highest version (the later one of
equal versions, as ClickHouse's FINAL does)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitstream.domain import event_bounds as b
from fitstream.domain import event_time
from fitstream.domain.event_time import MOVES_KEPT, EventTimePolicy
from fitstream.domain.leaderboards import ALL_SPORTS, UserLeaderboardTotals, count_completed_workouts
from fitstream.domain.session_batch import UserClocks, apply_batch
from fitstream.domain.windows import periods_of

HOUR = 3_600_000
DAY = 24 * HOUR
POLICY = EventTimePolicy()  # 48 h of allowed lateness, as in production


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def workout(workout_id: str, user_id: str, sport: str, start: int, end: int,
            distance: float) -> list[dict]:
    """A workout's Started and Completed events, each at its own time."""
    def event(seq: int, kind: str, at: int, **payload) -> dict:
        return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{workout_id}/{seq}")),
                "type": kind, "occurred_at": at, "user_id": user_id,
                "workout_id": workout_id, "device_id": "d-1", "seq": seq, **payload}
    return [event(0, "WorkoutStarted", start, sport_type=sport, start_time=start,
                  location={"latitude": 47.0, "longitude": 8.0}, device_model="x"),
            event(1, "WorkoutCompleted", end, end_time=end, duration_sec=(end - start) // 1000,
                  distance_meters=distance, calories_burned=distance / 10,
                  route_coordinates=[])]


class Processor:
    """The sessions and boards stages of fitstream/domain/pipeline.run_batch, with plain
    dicts as stores and the clocks' settled value visible to the test."""

    def __init__(self) -> None:
        self.sessions: dict = {}
        self.totals: dict[str, UserLeaderboardTotals] = {}
        self.clocks = UserClocks()
        self.store: dict[tuple, dict] = {}
        self.offset = 0
        self.rejected: list = []

    def batch(self, events: list[dict]) -> None:
        first = self.offset
        self.offset += len(events)
        refs = [(e, first + i) for i, e in enumerate(events)]
        result = apply_batch(refs, self.sessions.get, self.clocks, POLICY,
                             position=lambda ref: ref)
        self.sessions.update(result.sessions)
        self.rejected += [(r.event["workout_id"], r.event["seq"], r.reason.value)
                          for r in result.rejections]
        totals, entries = count_completed_workouts(
            result.completed_summaries(), self.totals.get,
            lambda user: self.clocks[user].settled, POLICY.allowed_lateness_ms)
        self.totals.update(totals)
        for entry in entries:
            key = (entry["window"], entry["period"], entry["sport"], entry["user_id"])
            if key not in self.store or entry["version"] >= self.store[key]["version"]:
                self.store[key] = entry


def test_a_hike_completed_after_its_day_was_pruned_adds_to_the_day_instead_of_replacing_it():
    """The finding's steps, all in time order and none late."""
    friday = "2026-11-27"
    run = workout("run-fri", "u1", "running", ms("2026-11-27T07:00:00"),
                  ms("2026-11-27T07:30:00"), 5000.0)
    hike = workout("hike-fri", "u1", "hiking", ms("2026-11-27T09:00:00"),
                   ms("2026-11-30T10:00:00"), 69_000.0)  # a watch left on
    later = [workout(f"run-{day}", "u1", "running", ms(f"{day}T07:00:00"),
                     ms(f"{day}T07:30:00"), 4000.0)
             for day in ("2026-11-28", "2026-11-29", "2026-11-30")]
    processor = Processor()
    # One clock move kept: the settled clock is the latest, so pruning follows at once.
    event_time.MOVES_KEPT = 1
    try:
        processor.batch(run)
        processor.batch(hike[:1])
        for events in later:
            processor.batch(events)  # by Monday morning Friday is past the lateness horizon
        assert processor.clocks["u1"].settled - POLICY.allowed_lateness_ms > ms(
            "2026-11-28T00:00:00")
        processor.batch(hike[1:])
    finally:
        event_time.MOVES_KEPT = MOVES_KEPT
    assert processor.rejected == []
    friday_all = processor.store[("day", friday, ALL_SPORTS, "u1")]
    assert (friday_all["workouts"], friday_all["distance_meters"]) == (2, 74_000.0)
    assert processor.store[("day", friday, "hiking", "u1")]["workouts"] == 1
    assert processor.store[("day", friday, "running", "u1")]["distance_meters"] == 5000.0
    week = processor.store[("week", "2026-W48", ALL_SPORTS, "u1")]
    assert (week["workouts"], week["distance_meters"]) == (4, 74_000.0 + 2 * 4000.0)


@st.composite
def fleets(draw):
    """Workouts of a few users over four weeks, many of them spanning the pruning
    horizon, some longer than the longest workout (their completion is refused); each
    event is delivered up to 47 h after it happened, so none is late."""
    base = ms("2026-11-02T00:00:00")
    plans = draw(st.lists(st.tuples(
        st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["running", "hiking"]),
        st.integers(0, 28 * DAY),
        st.one_of(st.integers(10 * 60_000, 3 * HOUR),
                  st.integers(DAY, b.MAX_WORKOUT_DURATION_MS + DAY)),
        st.integers(0, 100_000), st.integers(0, 47 * HOUR), st.integers(0, 47 * HOUR)),
        min_size=1, max_size=30))
    deliveries, expected = [], []
    for n, (user, sport, offset, duration, drawn_m, delay0, delay1) in enumerate(plans):
        start = base + offset
        distance = min(drawn_m, duration // 100)  # at most 10 m/s
        started, completed = workout(f"w{n}", user, sport, start, start + duration,
                                     float(distance))
        started_at = start + delay0
        deliveries += [(started_at, n, 0, started),
                       (max(started_at, start + duration + delay1), n, 1, completed)]
        if duration <= b.MAX_WORKOUT_DURATION_MS:
            expected.append(completed | {"start_time": start, "sport_type": sport})
    deliveries.sort(key=lambda d: d[:3])
    sizes = draw(st.lists(st.integers(1, 6), min_size=len(deliveries),
                          max_size=len(deliveries)))
    # A short replay window, so the settled clock follows and pruning happens.
    kept = draw(st.sampled_from([1, 2, 5]))
    return [d[3] for d in deliveries], sizes, expected, kept


def from_scratch(completed: list[dict]) -> dict[tuple, dict]:
    boards: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for event in completed:
        for window, period in periods_of(event["start_time"]):
            for sport in (event["sport_type"], ALL_SPORTS):
                total = boards[(window.value, period, sport, event["user_id"])]
                total[0] += round(event["distance_meters"] * 1000)
                total[1] += event["end_time"] - event["start_time"]
                total[2] += round(event["calories_burned"] * 1000)
                total[3] += 1
                total[4] = max(total[4], event["end_time"])
    return {key: {"distance_meters": t[0] / 1000, "moving_time_s": t[1] / 1000,
                  "calories": t[2] / 1000, "workouts": t[3], "reached_at": t[4]}
            for key, t in boards.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_board_totals_equal_a_from_scratch_recomputation_across_the_pruning_horizon(fleet):
    events, sizes, expected, kept = fleet
    processor = Processor()
    at = 0
    event_time.MOVES_KEPT = kept
    try:
        for size in sizes:
            if at >= len(events):
                break
            processor.batch(events[at:at + size])
            at += size
    finally:
        event_time.MOVES_KEPT = MOVES_KEPT
    assert {r[2] for r in processor.rejected} <= {"out_of_bounds"}
    assert sorted(r[0] for r in processor.rejected) == sorted(
        {e["workout_id"] for e in events} - {e["workout_id"] for e in expected})
    stored = {key: {f: entry[f] for f in ("distance_meters", "moving_time_s", "calories",
                                          "workouts", "reached_at")}
              for key, entry in processor.store.items()}
    assert stored == from_scratch(expected)
