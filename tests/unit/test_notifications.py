"""Notifications: distance goals mid-workout, entering a weekly top, ids, delivery plans."""

from __future__ import annotations

import itertools

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.delivery import ChannelPreferences, RetryPolicy, plan_deliveries
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.notifications import (
    BoardEntrant,
    Channel,
    GoalPassed,
    WeeklyBoard,
    entrants,
    for_entrant,
    for_goal,
    for_record,
    for_unlock,
    goals_passed,
    weekly_board_keys,
)
from fitstream.domain.session_batch import UserClocks, apply_batch
from fitstream.domain.workout_session import WorkoutSession
from tests.unit.test_workout_session import T0, WorkoutScript, feed

# -- distance goals -------------------------------------------------------------------


@pytest.mark.parametrize(("sport", "before", "after", "passed"), [
    ("running", 4999.0, 5000.0, [5000]),
    ("running", 5000.0, 5001.0, []),
    ("running", 4000.0, 10_500.0, [5000, 10_000]),
    ("running", 21_000.0, 21_100.0, [21_097.5]),
    ("cycling", 4000.0, 6000.0, []),
    ("cycling", 19_000.0, 20_000.0, [20_000]),
    ("rowing", 4900.0, 5100.0, [5000]),  # sports without their own goals use the default
    ("running", 6000.0, 4000.0, []),  # a reading that went down passes nothing
])
def test_goals_passed_are_crossed_from_below(sport, before, after, passed):
    assert goals_passed(sport, before, after) == passed


def run(distance_steps: list[float], sport: str = "running") -> WorkoutScript:
    script = WorkoutScript().started(sport=sport)
    for i, distance in enumerate(distance_steps, 1):
        script.updated(T0 + i * 60_000, distance, [150])
    return script


def test_a_goal_is_announced_once_by_the_update_that_passed_it():
    script = run([3000, 4999, 5200, 4800, 5100, 10_000]).completed(T0 + 10 * 60_000, 10_000)
    session, _ = feed(script.events)
    assert session.passed_goals == [
        GoalPassed("u-1", "w-1", "running", 5000, T0 + 3 * 60_000),
        GoalPassed("u-1", "w-1", "running", 10_000, T0 + 6 * 60_000)]


def test_a_re_delivered_update_re_announces_its_goal_and_nothing_else():
    script = run([3000, 5200, 6000])
    session, _ = feed(script.events)
    session.passed_goals = []
    session.offer(script.events[2])  # the update that passed 5 km, again
    session.offer(script.events[3])  # one that passed nothing, again
    assert session.passed_goals == [GoalPassed("u-1", "w-1", "running", 5000, T0 + 2 * 60_000)]


def test_the_completion_is_not_a_mid_workout_goal():
    session, _ = feed(run([4000]).completed(T0 + 5 * 60_000, 5500).events)
    assert session.passed_goals == []


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.floats(0, 800, allow_nan=False), min_size=1, max_size=40),
       data=st.data())
def test_goals_over_any_batching_and_restarts_are_each_goal_once_in_order(steps, data):
    """apply_batch, state stored between batches, any shuffle: every goal passed exactly
    once (counting the first announcement), at the event that passed it."""
    distances = list(itertools.accumulate(steps))
    events = run(distances).events
    expected = [(g, T0 + (i + 1) * 60_000) for i, d in enumerate(distances)
                for g in goals_passed("running", distances[i - 1] if i else 0.0, d)]
    delivered = data.draw(st.permutations(events))
    size = data.draw(st.integers(1, len(events)))
    store: dict[str, bytes] = {}
    announced = []
    for start in range(0, len(delivered), size):
        result = apply_batch(
            ((e, e["seq"]) for e in delivered[start:start + size]),
            lambda w: WorkoutSession.from_state(orjson.loads(store[w])) if w in store else None,
            UserClocks(), EventTimePolicy(10**12, 10**12))
        store.update({w: orjson.dumps(s.to_state()) for w, s in result.sessions.items()})
        announced += [(g.goal_m, g.at) for g in result.goals]
    assert announced == expected


def test_goal_notification_ids_depend_only_on_user_goal_and_workout():
    goal = GoalPassed("u-1", "w-9", "running", 21_097.5, T0)
    notification = for_goal(goal)
    assert notification["notification_id"] == "n:u-1:goal-21097.5:w-9"
    assert notification["title"] == "21.0975 km done!"
    assert for_goal(goal) == notification


def test_unlock_and_record_notifications_take_their_ids_from_the_cause():
    unlock = {"achievement_id": "u-1:run-10k", "rule_id": "run-10k", "type": "single_distance",
              "title": "10 km run", "user_id": "u-1", "achieved_at": T0, "progress": 1.0,
              "workout_id": "w-1"}
    record = {"record_id": "u-1:pr-5000:w-2", "user_id": "u-1", "distance_meters": 5000,
              "elapsed_ms": 1_499_000, "previous_ms": 1_560_400, "workout_id": "w-2",
              "achieved_at": T0}
    assert for_unlock(unlock)["notification_id"] == "n:u-1:run-10k"
    assert for_record(record) == {
        "notification_id": "n:u-1:pr-5000:w-2", "user_id": "u-1", "kind": "personal_record",
        "title": "New personal record: 5 km",
        "body": "Your fastest 5 km is now 24:59 (was 26:00).", "created_at": T0,
        "workout_id": "w-2"}


# -- entering a weekly top ----------------------------------------------------------

BOARD = "week|2026-W45|running"


def brute_force_entrants(completions, places):
    """Rank every user from scratch after every completion, in event-time order."""
    found, seen, totals = [], set(), {}
    for end, user, workout, distance in sorted(completions):
        dist, _ = totals.get(user, (0, 0))
        totals[user] = (dist + distance, end)
        ranking = sorted(totals, key=lambda u: (-totals[u][0], totals[u][1], u))
        place = ranking.index(user) + 1
        if place <= places and user not in seen:
            seen.add(user)
            found.append(BoardEntrant(BOARD, user, workout, end, place))
    return found


completion_lists = st.lists(
    st.tuples(st.integers(0, 50), st.sampled_from([f"u{i}" for i in range(8)]),
              st.integers(1, 5).map(lambda d: d * 1000)),
    max_size=40,
).map(lambda rows: [[T0 + end * 60_000, user, f"w{i}", distance]
                    for i, (end, user, distance) in enumerate(rows)])


@settings(max_examples=400, deadline=None)
@given(completions=completion_lists, places=st.integers(1, 5))
def test_the_sweep_finds_exactly_the_users_a_workout_put_in_the_top(completions, places):
    assert entrants(BOARD, completions, places) == brute_force_entrants(completions, places)


def as_completion(row):
    end, user, workout, distance = row
    return {"board": BOARD, "user_id": user, "workout_id": workout, "end_time": end,
            "distance_mm": distance}


@settings(max_examples=300, deadline=None)
@given(completions=completion_lists, data=st.data())
def test_a_board_fed_in_event_order_in_any_batches_announces_each_entrant_once(completions,
                                                                              data):
    ordered = sorted(completions)
    sizes = data.draw(st.integers(1, 10))
    board, announced = WeeklyBoard(BOARD), []
    for start in range(0, len(ordered), sizes):
        board = WeeklyBoard.from_state(orjson.loads(orjson.dumps(board.to_state())))
        announced += board.add(as_completion(r) for r in ordered[start:start + sizes])
    assert announced == brute_force_entrants(completions, 10)


@settings(max_examples=300, deadline=None)
@given(completions=completion_lists, data=st.data())
def test_any_arrival_order_and_repeats_never_announce_a_user_twice(completions, data):
    delivered = data.draw(st.permutations(completions + data.draw(
        st.lists(st.sampled_from(completions), max_size=5) if completions else st.just([]))))
    board, first_time = WeeklyBoard(BOARD), []
    for row in delivered:
        first_time += [e for e in board.add([as_completion(row)])
                       if e.user_id not in {f.user_id for f in first_time}]
    users = [e.user_id for e in first_time]
    assert len(users) == len(set(users))
    # Everyone the full history puts in the top was announced (perhaps late).
    assert {e.user_id for e in brute_force_entrants(completions, 10)} <= set(users)


@settings(max_examples=300, deadline=None)
@given(completions=completion_lists, data=st.data())
def test_with_no_more_users_than_places_the_interleaving_changes_nothing(completions, data):
    """Each user's completions keep their (log) order; users interleave in any way."""
    def feed_board(rows):
        board, told = WeeklyBoard(BOARD), []
        for row in rows:
            told += board.add([as_completion(row)])
        return sorted((e.user_id, e.workout_id, e.at) for e in told)

    by_user = {}
    for row in completions:
        by_user.setdefault(row[1], []).append(row)
    interleaved, queues = [], [list(rows) for rows in by_user.values()]
    while queues:
        queue = queues[data.draw(st.integers(0, len(queues) - 1))]
        interleaved.append(queue.pop(0))
        queues = [q for q in queues if q]
    assert feed_board(interleaved) == feed_board(completions)


def test_a_repeated_completion_brings_back_the_entrant_it_caused():
    board = WeeklyBoard(BOARD)
    first = board.add([as_completion([T0, "u1", "w1", 5000])])
    assert first == [BoardEntrant(BOARD, "u1", "w1", T0, 1)]
    assert board.add([as_completion([T0, "u1", "w1", 5000])]) == first
    assert board.add([as_completion([T0 + 1, "u2", "w2", 100])]) == [
        BoardEntrant(BOARD, "u2", "w2", T0 + 1, 2)]


def test_ties_enter_in_leaderboard_order():
    rows = [[T0, f"u{i:02d}", f"w{i}", 5000] for i in range(12)]
    found = entrants(BOARD, rows, 10)
    assert [e.user_id for e in found] == [f"u{i:02d}" for i in range(10)]
    assert [e.place for e in found] == list(range(1, 11))


def test_the_top_notification_names_the_board_and_place():
    notification = for_entrant(BoardEntrant("week|2026-W45|all", "u1", "w1", T0, 3))
    assert notification["notification_id"] == "n:u1:top10:week|2026-W45|all"
    assert notification["body"] == "You are among the top 10 for distance in all sports in 2026-W45."


def test_weekly_boards_of_a_workout_are_its_sport_and_all():
    summary = {"start_time": T0, "sport_type": "cycling"}
    assert weekly_board_keys(summary) == ["week|2026-W45|cycling", "week|2026-W45|all"]


# -- delivery plans and retries ------------------------------------------------------


def test_deliveries_follow_preferences_and_report_missing_addresses():
    notification = {"notification_id": "n:u1:run-5k", "user_id": "u1"}
    preferences = ChannelPreferences("u1", frozenset({Channel.PUSH, Channel.SMS,
                                                      Channel.EMAIL}), email="a@b.example")
    deliveries, unreachable = plan_deliveries(notification, preferences)
    assert [(d.channel, d.address, d.delivery_id) for d in deliveries] == [
        (Channel.PUSH, "u1", "n:u1:run-5k|push"),
        (Channel.EMAIL, "a@b.example", "n:u1:run-5k|email")]
    assert unreachable == [Channel.SMS]
    assert plan_deliveries(notification, ChannelPreferences("u1")) == ([], [])


def test_retry_backoff_doubles_up_to_the_cap_then_gives_up():
    policy = RetryPolicy(max_attempts=6, base_s=0.5, max_s=3)
    assert [policy.delay_after(a) for a in range(1, 7)] == [0.5, 1, 2, 3, 3, None]
    assert RetryPolicy(max_attempts=1).delay_after(1) is None


def test_another_users_workout_with_the_same_id_counts_on_a_board_as_theirs():
    """Review of issue 10: sessions are per user, so two users can complete workouts with
    one id; the board knew completions by workout id alone, dropped the second user's as
    a repeat and re-announced the first user's entry for it."""
    board = WeeklyBoard("week|2026-W45|all")
    first = {"board": board.board, "user_id": "u-a", "workout_id": "w-1",
             "end_time": T0, "distance_mm": 5_000_000}
    second = {**first, "user_id": "u-b", "end_time": T0 + 1, "distance_mm": 7_000_000}
    assert [e.user_id for e in board.add([first])] == ["u-a"]
    assert [e.user_id for e in board.add([second])] == ["u-b"]
    assert [e.user_id for e in board.add([second])] == ["u-b"]  # a repeat re-announces
    assert {u: t[0] for u, t in board.sweep.totals.items()} == {"u-a": 5_000_000,
                                                              "u-b": 7_000_000}


def test_a_buffered_repeat_of_a_completion_does_not_replace_the_route():
    """Review of issue 10: a second WorkoutCompleted at a later seq after the workout
    completed is only buffered; its points were sent as the route."""
    events = WorkoutScript("w-r").started().completed(T0 + 60_000, 100.0).events
    events[1]["route_coordinates"] = [{"lat": 52.5, "lon": 13.4}]
    stray = {**events[1], "event_id": "another", "seq": 5,
             "route_coordinates": [{"lat": 1.0, "lon": 1.0}]}
    sessions: dict = {}
    done = apply_batch([(e, e["seq"]) for e in events], sessions.get, UserClocks(),
                       EventTimePolicy(10**12, 10**12))
    sessions.update(done.sessions)
    again = apply_batch([(stray, 5), (events[1], 1)], sessions.get, UserClocks(),
                        EventTimePolicy(10**12, 10**12))
    assert [r["lats"] for r in done.routes] == [[52.5]]
    assert [r["lats"] for r in again.routes] == [[52.5]]
