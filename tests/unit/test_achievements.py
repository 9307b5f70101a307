"""The achievement catalogue: unlocks once, progress, records, streaks, weekly goals."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.achievements import (
    CATALOGUE,
    RULES,
    UserAchievements,
    apply_completed_workouts,
    longest_streak,
)

HOUR = 3_600_000


def ms(day: str, hour: int = 7) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000) + hour * HOUR


def workout(workout_id: str, day: str, distance: float = 3000.0, sport: str = "running",
            best_1k=None, best_5k=None, best_10k=None, status: str = "completed") -> dict:
    start = ms(day)
    return {"workout_id": workout_id, "user_id": "u1", "status": status, "sport_type": sport,
            "start_time": start, "end_time": start + HOUR, "last_event_at": start + HOUR,
            "distance_meters": distance, "best_1k_ms": best_1k, "best_5k_ms": best_5k,
            "best_10k_ms": best_10k}


def unlocked(user: UserAchievements) -> set[str]:
    return set(user.unlocked)


def test_the_first_workout_unlocks_once_and_sets_progress_everywhere():
    user = UserAchievements("u1")
    changes = user.add_workout(workout("w1", "2026-11-02", 2500.0))
    assert [e["rule_id"] for e in changes.unlocked] == ["first-workout"]
    assert changes.unlocked[0] == {
        "achievement_id": "u1:first-workout", "rule_id": "first-workout",
        "type": "first_workout", "title": "First workout", "user_id": "u1",
        "achieved_at": ms("2026-11-02") + HOUR, "progress": 1.0, "workout_id": "w1"}
    progress = {row["rule_id"]: row["progress"] for row in changes.progress}
    assert len(progress) == len(CATALOGUE)
    assert progress["run-5k"] == 0.5
    assert progress["total-100km"] == 0.025
    assert progress["streak-3"] == round(1 / 3, 4)
    assert progress["pr-1k"] == 0.9999  # 2.5 km run, but no timed 1 km effort
    assert progress["pr-5k"] == 0.5
    assert user.add_workout(workout("w0", "2026-11-02", status="cancelled")).unlocked == []


def test_distance_rules_count_runs_only_and_totals_every_sport():
    user = UserAchievements("u1")
    assert "run-5k" not in {e["rule_id"] for e in user.add_workout(
        workout("bike", "2026-11-02", 60_000.0, sport="cycling")).unlocked}
    assert unlocked(user) == {"first-workout"}
    changes = user.add_workout(workout("run", "2026-11-04", 10_500.0))
    assert {e["rule_id"] for e in changes.unlocked} == {"run-5k", "run-10k"}
    user.add_workout(workout("ride2", "2026-11-06", 30_000.0, sport="cycling"))
    assert "total-100km" in unlocked(user)
    assert user.unlocked["total-100km"][1] == "ride2"


def test_a_record_inside_a_longer_run_unlocks_then_improvements_are_announced():
    user = UserAchievements("u1")
    first = user.add_workout(workout("w1", "2026-11-02", 12_000.0, best_1k=250_000,
                                     best_5k=1_300_000, best_10k=2_700_000))
    assert {"pr-1k", "pr-5k", "pr-10k"} <= {e["rule_id"] for e in first.unlocked}
    assert first.records == []  # a first record is the unlock, not an improvement
    slower = user.add_workout(workout("w2", "2026-11-03", 6000.0, best_1k=260_000,
                                      best_5k=1_400_000))
    assert slower.records == [] and slower.unlocked == []
    faster = user.add_workout(workout("w3", "2026-11-05", 6000.0, best_1k=240_000,
                                      best_5k=1_350_000))
    assert faster.records == [{
        "record_id": "u1:pr-1000:w3", "user_id": "u1", "distance_meters": 1000,
        "elapsed_ms": 240_000, "previous_ms": 250_000, "workout_id": "w3",
        "achieved_at": ms("2026-11-05") + HOUR}]
    assert user.best_efforts["5000"][0] == 1_300_000


def test_streaks_run_across_month_and_year_boundaries():
    user = UserAchievements("u1")
    for i, day in enumerate(["2026-11-29", "2026-11-30", "2026-12-01"]):
        user.add_workout(workout(f"m{i}", day))
    assert user.unlocked["streak-3"][1] == "m2"
    for i, day in enumerate(["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31",
                             "2027-01-01", "2027-01-02", "2027-01-03"]):
        user.add_workout(workout(f"y{i}", day))
    assert user.unlocked["streak-7"][1] == "y6"
    assert longest_streak(user.days) == 7


def test_weekly_goal_counts_one_iso_week():
    user = UserAchievements("u1")
    for i, day in enumerate(["2026-11-07", "2026-11-08", "2026-11-09"]):  # Sat, Sun, Mon
        user.add_workout(workout(f"w{i}", day))
    assert "weekly-goal" not in user.unlocked
    assert user.progress["weekly-goal"] == round(2 / 3, 4)
    user.add_workout(workout("w3", "2026-11-10"))
    user.add_workout(workout("w4", "2026-11-15"))  # Sunday of the same ISO week
    assert user.unlocked["weekly-goal"][1] == "w4"


def test_a_repeated_workout_unlocks_nothing_new_but_re_sends_what_it_caused():
    user = UserAchievements("u1")
    first = user.add_workout(workout("w1", "2026-11-02", 5200.0, best_1k=250_000))
    again = user.add_workout(workout("w1", "2026-11-02", 5200.0, best_1k=250_000))
    assert sorted(e["rule_id"] for e in again.unlocked) == sorted(
        e["rule_id"] for e in first.unlocked)
    assert user.workouts == 1


@settings(max_examples=100, deadline=None)
@given(days=st.lists(st.integers(0, 60), max_size=40))
def test_longest_streak_equals_a_brute_force(days):
    present = set(days)
    brute = max((n for start in present for n in range(1, 62)
                 if all(start + k in present for k in range(n))), default=0)
    assert longest_streak(days) == brute


plans = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(["running", "cycling"]),
                           st.floats(500, 25_000).map(lambda d: round(d, 1)),
                           st.one_of(st.none(), st.integers(180_000, 400_000))),
                 min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(plan=plans, data=st.data())
def test_unlocks_and_progress_do_not_depend_on_order_or_repeats(plan, data):
    summaries = [workout(f"w{i}", f"2026-11-{1 + day % 30:02d}", distance, sport, best_1k=pr)
                 for i, (day, sport, distance, pr) in enumerate(plan)]
    in_order = UserAchievements("u1")
    for s in summaries:
        in_order.add_workout(s)
    delivered = data.draw(st.permutations(summaries + data.draw(
        st.lists(st.sampled_from(summaries), max_size=10))))
    stored: dict[str, bytes] = {}
    sent = []
    for s in delivered:  # one batch per workout, state stored and reloaded in between
        users, changes = apply_completed_workouts(
            [s], lambda u: UserAchievements.from_state(orjson.loads(stored[u]))
            if u in stored else None)
        stored["u1"] = orjson.dumps(users["u1"].to_state())
        sent += changes.unlocked
    final = UserAchievements.from_state(orjson.loads(stored["u1"]))
    assert set(final.unlocked) == set(in_order.unlocked)
    assert final.progress == in_order.progress
    assert {e["achievement_id"] for e in sent} == {f"u1:{r}" for r in in_order.unlocked}
    assert all(RULES[r].rule_id == r for r in final.unlocked)
