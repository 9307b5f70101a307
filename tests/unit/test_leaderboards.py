"""Calendar windows and incremental leaderboard totals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.leaderboards import (
    LeaderboardMetric,
    UserLeaderboardTotals,
    ranking_key,
)
from fitstream.domain.windows import LeaderboardWindow, periods_of

HOUR = 3_600_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("instant", "week", "month", "year"), [
    ("2026-11-26T12:00:00", "2026-W48", "2026-11", "2026"),
    ("2026-12-31T23:59:59", "2026-W53", "2026-12", "2026"),
    ("2027-01-01T00:00:00", "2026-W53", "2027-01", "2027"),
    ("2027-01-03T23:59:59", "2026-W53", "2027-01", "2027"),
    ("2027-01-04T00:00:00", "2027-W01", "2027-01", "2027"),
    ("2024-12-30T00:00:00", "2025-W01", "2024-12", "2024"),
    ("2028-02-29T10:00:00", "2028-W09", "2028-02", "2028"),
])
def test_iso_weeks_months_and_years_across_boundaries(instant, week, month, year):
    at = ms(instant)
    assert dict(periods_of(at)) == {
        LeaderboardWindow.DAY: instant[:10], LeaderboardWindow.WEEK: week,
        LeaderboardWindow.MONTH: month, LeaderboardWindow.YEAR: year,
        LeaderboardWindow.ALL: "all"}


@settings(max_examples=500, deadline=None)
@given(at=st.integers(ms("1990-01-01T00:00:00"), ms("2100-01-01T00:00:00")),
       window=st.sampled_from([w for w in LeaderboardWindow if w is not LeaderboardWindow.ALL]))
def test_every_instant_lies_in_the_bounds_of_its_period(at, window):
    start, end = window.bounds(window.period_of(at))
    assert start <= at < end
    assert window.period_of(start) == window.period_of(end - 1) != window.period_of(end)


@pytest.mark.parametrize(("window", "period"), [
    ("week", "2026-W54"), ("week", "2025-W53"), ("month", "2026-13"), ("day", "2026-02-30"),
    ("all", "2026"), ("year", "20x6")])
def test_malformed_period_keys_are_refused(window, period):
    with pytest.raises(ValueError):
        LeaderboardWindow(window).bounds(period)


def completed(workout_id, start, sport="running", distance=5000.0, moving_ms=1_500_000,
              calories=300.5, status="completed"):
    return {"workout_id": workout_id, "user_id": "u1", "status": status, "sport_type": sport,
            "start_time": start, "end_time": start + moving_ms, "last_event_at": start + moving_ms,
            "distance_meters": distance, "moving_duration_ms": moving_ms,
            "calories_burned": calories}


def test_a_completed_workout_counts_in_every_window_for_its_sport_and_all():
    totals = UserLeaderboardTotals("u1")
    changed = totals.add_workout(completed("w1", ms("2026-11-26T07:00:00")))
    assert len(changed) == 10
    assert {(e["window"], e["period"], e["sport"]) for e in changed} == {
        (w, p, s) for w, p in [("day", "2026-11-26"), ("week", "2026-W48"),
                               ("month", "2026-11"), ("year", "2026"), ("all", "all")]
        for s in ("running", "all")}
    assert changed[0] == {"window": "day", "period": "2026-11-26", "sport": "running",
                          "user_id": "u1", "distance_meters": 5000.0, "moving_time_s": 1500.0,
                          "calories": 300.5, "workouts": 1,
                          "reached_at": ms("2026-11-26T07:25:00"), "version": 1}


def test_cancelled_and_repeated_workouts_never_count():
    totals = UserLeaderboardTotals("u1")
    assert totals.add_workout(completed("w0", ms("2026-11-26T07:00:00"),
                                        status="cancelled")) == []
    first = totals.add_workout(completed("w1", ms("2026-11-26T07:00:00")))
    again = totals.add_workout(completed("w1", ms("2026-11-26T07:00:00")))
    assert again == first  # the same entries again, for re-sending; nothing added
    assert totals.entry("all", "all", "all")["workouts"] == 1


workouts = st.lists(
    st.tuples(st.integers(0, 60 * 24 * 3), st.sampled_from(["running", "cycling"]),
              st.floats(0, 50_000, allow_nan=False).map(lambda d: round(d, 1)),
              st.integers(1, 4 * 3600), st.floats(0, 3000, allow_nan=False).map(
                  lambda c: round(c, 1))),
    min_size=1, max_size=25, unique_by=lambda w: w[0])


@settings(max_examples=200, deadline=None)
@given(workouts=workouts, data=st.data())
def test_totals_are_the_same_in_any_order_and_with_repeats(workouts, data):
    base = ms("2026-12-20T00:00:00")
    summaries = [completed(f"w{i}", base + minute * 60_000, sport, distance, secs * 1000, cal)
                 for i, (minute, sport, distance, secs, cal) in enumerate(workouts)]
    in_order = UserLeaderboardTotals("u1")
    for summary in summaries:
        in_order.add_workout(summary)
    shuffled = UserLeaderboardTotals("u1")
    replayed = data.draw(st.permutations(summaries + data.draw(
        st.lists(st.sampled_from(summaries), max_size=10))))
    for summary in replayed:
        shuffled.add_workout(summary)
    assert shuffled.totals == in_order.totals
    everything = shuffled.entry("all", "all", "all")
    assert everything["workouts"] == len(summaries)
    assert everything["distance_meters"] == sum(round(s["distance_meters"] * 1000)
                                                for s in summaries) / 1000


def test_ties_break_by_who_reached_the_value_first_then_user_id():
    entries = [
        {"user_id": "c", "distance_meters": 10.0, "reached_at": 5},
        {"user_id": "b", "distance_meters": 10.0, "reached_at": 5},
        {"user_id": "a", "distance_meters": 10.0, "reached_at": 9},
        {"user_id": "d", "distance_meters": 12.0, "reached_at": 99},
    ]
    ranked = sorted(entries, key=lambda e: ranking_key(e, LeaderboardMetric.DISTANCE))
    assert [e["user_id"] for e in ranked] == ["d", "b", "c", "a"]


def test_prune_keeps_what_a_late_event_can_still_change():
    totals = UserLeaderboardTotals("u1")
    totals.add_workout(completed("old", ms("2026-10-01T07:00:00")))
    totals.add_workout(completed("recent", ms("2026-11-25T07:00:00")))
    totals.prune(settled_clock=ms("2026-11-26T12:00:00"), allowed_lateness_ms=48 * HOUR)
    kept = {tuple(k.split("|")[:2]) for k in totals.totals}
    assert ("day", "2026-10-01") not in kept
    assert ("month", "2026-10") not in kept
    assert {("day", "2026-11-25"), ("week", "2026-W48"), ("month", "2026-11"),
            ("year", "2026"), ("all", "all")} <= kept
    # The old workout is retired (11 days past its end, against the settled clock): no
    # re-delivery of it can pass lateness any more. The recent one is kept.
    assert set(totals.counted) == {"recent"}
    assert totals.entry("year", "2026", "all")["workouts"] == 2
