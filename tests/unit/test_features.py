"""Point-in-time user features: what the stream serves and what a training set reads."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.features import (
    DAY_MS,
    FEATURE_NAMES,
    FLAT_FEATURE_NAMES,
    FORECAST_V1_FEATURES,
    MAX_STREAK_DAYS,
    NEXT_WORKOUT_FEATURES,
    PER_SPORT_FEATURES,
    RACE_TIME_FEATURES,
    UserFeatureHistory,
    apply_completed_to_features,
    current_streak,
    flat_feature_row,
    next_days_distance_m,
    snapshot_days,
    user_features,
)

AS_OF = 1_796_083_200_000  # 2026-12-01 00:00 UTC


def workout(i: int, end: int, distance: float = 5000.0, moving_s: int = 1800,
            sport: str = "running", hr: float | None = 150.0, status: str = "completed",
            best: tuple[int | None, int | None, int | None] = (None, None, None)) -> dict:
    """A WorkoutSummary's fields the features read; ``best`` is its 1/5/10 km best
    efforts in ms (None: the workout was too short or not a run)."""
    return {"workout_id": f"w{i:03d}", "user_id": "u", "sport_type": sport, "status": status,
            "start_time": end - moving_s * 1000, "end_time": end,
            "moving_duration_ms": moving_s * 1000, "distance_meters": distance,
            "avg_heart_rate": hr, "best_1k_ms": best[0], "best_5k_ms": best[1],
            "best_10k_ms": best[2]}


def test_trailing_windows_are_half_open_at_the_far_end():
    features = user_features("u", [
        workout(1, AS_OF - 7 * DAY_MS),       # just outside 7 d
        workout(2, AS_OF - 7 * DAY_MS + 1),   # just inside
        workout(3, AS_OF),                    # exactly at as_of: known
        workout(4, AS_OF - 28 * DAY_MS),      # outside 28 d
    ], AS_OF)
    assert (features["workouts_7d"], features["workouts_28d"]) == (2, 3)
    assert features["distance_28d_m"] == 15_000.0
    assert features["days_since_last_workout"] == 0.0


def test_workload_ratio_pace_and_heart_rate():
    workouts = [workout(1, AS_OF - DAY_MS, moving_s=3600, hr=160.0),
                workout(2, AS_OF - 10 * DAY_MS, moving_s=1800, hr=130.0),
                workout(3, AS_OF - 20 * DAY_MS, moving_s=1800, hr=None),
                workout(4, AS_OF - 2 * DAY_MS, distance=20_000, moving_s=2400, sport="cycling",
                        hr=140.0),
                workout(5, AS_OF - DAY_MS, status="cancelled")]
    f = user_features("u", workouts, AS_OF)
    assert f["moving_time_7d_s"] == 6000.0 and f["moving_time_28d_s"] == 9600.0
    assert f["acute_chronic_ratio"] == 6000.0 / (9600.0 / 4)
    assert f["avg_pace_s_per_km_28d"] == {"cycling": 120.0, "running": 7200 / 15}
    assert f["avg_heart_rate_28d"] == {"cycling": 140.0,
                                       "running": (160 * 3600 + 130 * 1800) / 5400}


def test_nothing_known_yet():
    f = user_features("u", [workout(1, AS_OF + 1)], AS_OF)
    assert (f["workouts_28d"], f["acute_chronic_ratio"], f["days_since_last_workout"],
            f["current_streak_days"]) == (0, None, None, 0)


def test_a_streak_survives_until_a_whole_day_passes_and_spans_month_ends():
    days = {20604, 20605, 20606}  # 2026-05-31 .. 2026-06-02 (day numbers since 1970)
    assert current_streak(days, 20606) == 3
    assert current_streak(days, 20607) == 3  # today has none yet: yesterday's streak lives
    assert current_streak(days, 20608) == 0


ends = st.lists(st.integers(AS_OF - 100 * DAY_MS, AS_OF + 5 * DAY_MS), max_size=25)


@settings(max_examples=200, deadline=None)
@given(ends=ends, data=st.data())
def test_order_and_later_workouts_change_nothing_at_a_point_in_time(ends, data):
    """What the stream could serve at as_of: independent of arrival order, and of
    workouts that completed after as_of (no leakage into a training set)."""
    workouts = [workout(i, end, distance=1000.0 + i, sport=data.draw(
        st.sampled_from(("running", "cycling"))), best=data.draw(efforts_ms))
        for i, end in enumerate(ends)]
    known = [w for w in workouts if w["end_time"] <= AS_OF]
    shuffled = data.draw(st.permutations(workouts))
    assert user_features("u", shuffled, AS_OF) == user_features("u", known, AS_OF)


# --- v2: running best efforts and volume, the last three workouts --------------------

efforts_ms = st.tuples(st.none() | st.integers(150_000, 400_000),
                       st.none() | st.integers(900_000, 2_000_000),
                       st.none() | st.integers(1_900_000, 4_000_000))


def test_best_efforts_count_completed_runs_ending_in_the_last_90_days():
    f = user_features("u", [
        workout(1, AS_OF - 90 * DAY_MS, best=(200_000, 1_000_000, 2_000_000)),  # outside
        workout(2, AS_OF - 90 * DAY_MS + 1, best=(250_000, None, None)),        # inside
        workout(3, AS_OF, best=(260_000, 1_300_500, None)),                     # at as_of
        workout(4, AS_OF + 1, best=(100_000, 500_000, 1_000_000)),              # not yet
        workout(5, AS_OF - DAY_MS, sport="cycling", best=(90_000, 400_000, 900_000)),
        workout(6, AS_OF - DAY_MS, status="cancelled", best=(80_000, 300_000, 800_000)),
    ], AS_OF)
    assert (f["best_1k_s_90d"], f["best_5k_s_90d"], f["best_10k_s_90d"]) == (
        250.0, 1300.5, None)


def test_running_volume_over_28_days_and_none_without_runs():
    f = user_features("u", [
        workout(1, AS_OF - 28 * DAY_MS, distance=30_000.0),        # outside 28 d
        workout(2, AS_OF - 28 * DAY_MS + 1, distance=12_000.0004),
        workout(3, AS_OF - DAY_MS, distance=8_000.5),
        workout(4, AS_OF - DAY_MS, distance=50_000.0, sport="cycling"),
    ], AS_OF)
    assert (f["running_distance_28d_m"], f["longest_run_28d_m"]) == (20_000.5, 12_000.0004)
    none = user_features("u", [workout(1, AS_OF, sport="rowing")], AS_OF)
    assert (none["running_distance_28d_m"], none["longest_run_28d_m"]) == (0.0, 0.0)
    assert none["best_1k_s_90d"] is None


def test_the_last_three_workouts_latest_first_by_end_then_id():
    start_hour = 3_600_000
    f = flat_feature_row(user_features("u", [
        workout(1, AS_OF - 40 * DAY_MS, moving_s=4000, sport="hiking", hr=None),
        workout(3, AS_OF - 2 * DAY_MS, moving_s=1200, sport="swimming", hr=139.0),
        workout(2, AS_OF - 2 * DAY_MS, moving_s=2400, sport="yoga", hr=171.0),  # tie: w002 < w003
        workout(4, AS_OF - 3 * DAY_MS, sport="cycling"),
        workout(5, AS_OF + 1, sport="rowing"),                     # not known yet
        workout(6, AS_OF - DAY_MS, sport="rowing", status="cancelled"),
    ], AS_OF - 39 * DAY_MS + 13 * start_hour))
    # Only w001 is known 39 days back (13:00 UTC): one workout, the others None.
    assert [f[f"last_1_{n}"] for n in ("sport_index", "duration_s", "intensity_index",
                                        "start_hour")] == [4, 4000.0, 1, 22]
    assert all(f[f"last_{k}_{n}"] is None for k in (2, 3)
               for n in ("sport_index", "duration_s", "intensity_index", "start_hour"))
    now = user_features("u", [workout(i, AS_OF - d * DAY_MS, moving_s=m, sport=sp, hr=hr)
                              for i, d, m, sp, hr in ((1, 40, 4000, "hiking", None),
                                                      (3, 2, 1200, "swimming", 139.0),
                                                      (2, 2, 2400, "yoga", 171.0),
                                                      (4, 3, 1800, "cycling", 150.0))], AS_OF)
    assert [(now[f"last_{k}_sport_index"], now[f"last_{k}_duration_s"],
             now[f"last_{k}_intensity_index"], now[f"last_{k}_start_hour"])
            for k in (1, 2, 3)] == [(3, 1200.0, 0, 23), (6, 2400.0, 2, 23), (1, 1800.0, 1, 23)]


def test_the_history_keeps_compact_efforts_and_the_latest_three_not_whole_workouts():
    """Runs 100, 80 and 60 days back, then a ride now: the row still has the last three
    and the 80-day best effort, from records that are all the history keeps of them."""
    history = UserFeatureHistory("u")
    for i, days in enumerate((200, 100, 80, 60)):
        history.add_workout(workout(i, AS_OF - days * DAY_MS, best=(300_000 - i, None, None)))
    [row] = history.add_workout(workout(9, AS_OF, sport="cycling", hr=130.0))
    assert [row[f"last_{k}_sport_index"] for k in (1, 2, 3)] == [1, 0, 0]
    assert row["last_3_start_hour"] == 23 and row["best_1k_s_90d"] == 299.997
    assert row == flat_feature_row(user_features("u", [
        workout(i, AS_OF - days * DAY_MS, best=(300_000 - i, None, None))
        for i, days in enumerate((200, 100, 80, 60))] + [
        workout(9, AS_OF, sport="cycling", hr=130.0)], AS_OF))
    # The latest three of rows older than 7 days (a row 7 days back needs them), and
    # the new one: not the 200-day-old run.
    assert sorted(history.workouts) == ["w001", "w002", "w003", "w009"]
    assert sorted(history.efforts) == ["w002", "w003"]  # ended within 90 + 7 days
    assert set(history.efforts["w002"]) == {"workout_id", "end_time", "row_at", "best_1k_ms",
                                            "best_5k_ms", "best_10k_ms"}


def test_a_history_stored_before_v2_still_loads():
    state = UserFeatureHistory("u").to_state()
    del state["efforts"]
    assert UserFeatureHistory.from_state(state).efforts == {}


def test_the_v1_features_and_the_model_services_are_fixed():
    assert FORECAST_V1_FEATURES == FEATURE_NAMES + PER_SPORT_FEATURES
    assert len(FORECAST_V1_FEATURES) == 23
    assert FLAT_FEATURE_NAMES[:23] == FORECAST_V1_FEATURES and len(FLAT_FEATURE_NAMES) == 40
    assert set(RACE_TIME_FEATURES) | set(NEXT_WORKOUT_FEATURES) <= set(FLAT_FEATURE_NAMES)
    assert NEXT_WORKOUT_FEATURES[:4] == ("last_1_sport_index", "last_1_duration_s",
                                         "last_1_intensity_index", "last_1_start_hour")
    assert len(NEXT_WORKOUT_FEATURES) == 19 and len(RACE_TIME_FEATURES) == 11


# --- The stream's history: rows, their times, and the state round trip ---------------

def feed(history: UserFeatureHistory, completions: list[dict], restart_every: int = 0,
         ) -> tuple[UserFeatureHistory, list[list[dict]]]:
    """The rows each completion makes, optionally through the stored state now and then."""
    import orjson

    rows = []
    for i, summary in enumerate(completions):
        if restart_every and i % restart_every == 0:
            history = UserFeatureHistory.from_state(orjson.loads(orjson.dumps(
                history.to_state())))
        histories, new_rows = apply_completed_to_features([summary], lambda _u, h=history: h)
        history = histories["u"]
        rows.append(new_rows)
    return history, rows


def replay_history(completions: list[dict], restart_every: int = 0) -> list[dict]:
    return [row for rows in feed(UserFeatureHistory("u"), completions, restart_every)[1]
            for row in rows]


completion_ends = st.lists(st.integers(AS_OF - 130 * DAY_MS, AS_OF), min_size=1, max_size=30)


def changes_nothing(summary: dict, latest: dict | None, seen: dict[str, dict]) -> bool:
    """A completion no feature of any later row can see: outside the 28-day windows (and
    the 90-day ones if it is a run with a best effort), on a day that already counts
    for the streak, and with three workouts later by (end_time, workout_id)."""
    if latest is None:
        return False
    has_efforts = summary["sport_type"] == "running" and any(
        summary[f] is not None for f in ("best_1k_ms", "best_5k_ms", "best_10k_ms"))
    key = (summary["end_time"], summary["workout_id"])
    return (summary["end_time"] <= latest["as_of"] - 28 * DAY_MS
            and not (has_efforts and summary["end_time"] > latest["as_of"] - 90 * DAY_MS)
            and summary["start_time"] // DAY_MS in {
                w["start_time"] // DAY_MS for w in seen.values()}
            and sum((w["end_time"], w["workout_id"]) > key for w in seen.values()) >= 3)


@settings(max_examples=300, deadline=None)
@given(ends=completion_ends, data=st.data())
def test_each_row_is_the_point_in_time_features_of_what_had_arrived(ends, data):
    """A new workout's row is what user_features gives from scratch over every workout
    seen so far, at the row's time, a second or more after the previous row (the
    running best efforts over 90 days and the last three workouts included, however
    old: the history keeps compact efforts and the latest three, not everything); a
    known one re-sends its own first row (when 7 days recent) and then the latest; a
    user's rows always end on the latest; the stored state round trip changes nothing."""
    workouts = [workout(i, end, distance=1000.0 + i, hr=120.0 + 9 * (i % 7),
                        moving_s=600 * (1 + i % 8), sport=("running", "cycling")[i % 3 == 2],
                        best=data.draw(efforts_ms)) for i, end in enumerate(ends)]
    arrivals = data.draw(st.lists(st.sampled_from(workouts), min_size=1, max_size=40))
    _, per_arrival = feed(UserFeatureHistory("u"), arrivals)
    assert per_arrival == feed(UserFeatureHistory("u"), arrivals,
                               data.draw(st.integers(1, 5)))[1]
    seen: dict[str, dict] = {}
    first_row: dict[str, dict] = {}
    latest = None
    for summary, rows in zip(arrivals, per_arrival, strict=True):
        new = summary["workout_id"] not in seen
        too_old = new and changes_nothing(summary, latest, seen)
        seen[summary["workout_id"]] = summary
        if new and not too_old:
            [row] = rows
            assert latest is None or row["as_of"] >= latest["as_of"] + 1000
            assert row["as_of"] >= summary["end_time"]
            assert row == flat_feature_row(user_features("u", seen.values(), row["as_of"]))
            first_row[summary["workout_id"]] = latest = row
        elif new:
            assert rows == [latest]  # changes no feature of any row
        else:
            own = first_row.get(summary["workout_id"])
            # Made again while it and its windows' records are kept: 7 days behind.
            reproducible = own is not None and own["as_of"] >= latest["as_of"] - 7 * DAY_MS
            assert rows == ([own, latest] if reproducible and own != latest else [latest])


@settings(max_examples=200, deadline=None)
@given(ends=st.lists(st.integers(AS_OF - 6 * DAY_MS, AS_OF), min_size=1, max_size=15),
       data=st.data())
def test_a_crash_between_saving_and_sending_loses_no_row(ends, data):
    """State saved through arrival k, sends lost from the last committed arrival j on; the
    replay from j sends every row a clean run sends, and ends on the same latest row."""
    workouts = [workout(i, end, distance=500.0 + i) for i, end in enumerate(ends)]
    arrivals = data.draw(st.lists(st.sampled_from(workouts), min_size=1, max_size=20))
    clean = replay_history(arrivals)
    k = data.draw(st.integers(0, len(arrivals)))
    j = data.draw(st.integers(0, k))
    ahead, before_crash = feed(UserFeatureHistory("u"), arrivals[:k])
    delivered = [row for rows in before_crash[:j] for row in rows]
    _, replayed = feed(ahead, arrivals[j:])
    delivered += [row for rows in replayed for row in rows]
    by_time = {row["as_of"]: row for row in clean}
    assert {r["as_of"]: r for r in delivered} == by_time
    assert all(by_time[r["as_of"]] == r for r in delivered)
    assert delivered[-1] == clean[-1]


def test_a_late_workout_shows_in_the_next_row_one_second_on():
    late, current = workout(1, AS_OF - 3 * DAY_MS), workout(2, AS_OF)
    rows = replay_history([current, late])
    assert [r["as_of"] for r in rows] == [AS_OF, AS_OF + 1000]
    assert [r["workouts_7d"] for r in rows] == [1, 2]


def test_flat_rows_have_one_column_per_sport():
    row = flat_feature_row(user_features("u", [workout(1, AS_OF, sport="cycling")], AS_OF))
    assert set(row) == {"user_id", "as_of", *FLAT_FEATURE_NAMES}
    assert row["avg_pace_s_per_km_28d_cycling"] == 360.0
    assert row["avg_pace_s_per_km_28d_running"] is None


def test_streaks_are_capped_at_a_year():
    days = set(range(1000, 1500))
    assert current_streak(days, 1499) == MAX_STREAK_DAYS


def test_snapshots_start_after_the_first_row_and_stop_when_the_label_is_incomplete():
    first, end = AS_OF + 5 * 3_600_000, AS_OF + 10 * DAY_MS
    days = snapshot_days(first, end)
    assert days[0] * DAY_MS == AS_OF + DAY_MS
    assert days[-1] * DAY_MS + 7 * DAY_MS <= end < (days[-1] + 1) * DAY_MS + 7 * DAY_MS
    assert list(snapshot_days(first, AS_OF + 7 * DAY_MS)) == []


def test_the_label_counts_the_next_seven_days_half_open_at_the_start():
    workouts = [workout(1, AS_OF), workout(2, AS_OF + 1, distance=0.0004),
                workout(3, AS_OF + 7 * DAY_MS, distance=1.0015),
                workout(4, AS_OF + 7 * DAY_MS + 1), workout(5, AS_OF + 5, status="cancelled")]
    assert next_days_distance_m(workouts, AS_OF) == 1.002  # 0 mm (0.4 rounds down) + 1002 mm
