"""The bounds of a workout event: what is within passes, each field outside is named."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fitstream.domain import event_bounds as b
from fitstream.domain.event_bounds import (
    ahead_of,
    completion_problems,
    event_bound_problems,
    future_problem,
)
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet

T0 = 1_793_606_400_000  # 2026-11-02 08:00 UTC
ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}\Z")
times = st.integers(b.EARLIEST_EVENT_MS + b.MAX_END_LAG_MS, 4_102_444_800_000)  # to 2100
heart_rates = st.none() | st.integers(b.MIN_HEART_RATE, b.MAX_HEART_RATE)
lat = st.floats(-90, 90)
lon = st.floats(-180, 180)


@st.composite
def samples(draw):
    return {"offset_ms": draw(st.integers(0, b.MAX_WORKOUT_DURATION_MS)),
            "distance_meters": draw(st.floats(0, b.MAX_DISTANCE_METERS)),
            "heart_rate": draw(heart_rates),
            "speed": draw(st.none() | st.floats(0, b.MAX_SPEED_MPS)),
            "lat": draw(lat), "lon": draw(lon),
            "elevation_meters": draw(st.none() | st.floats(b.MIN_ELEVATION_METERS,
                                                           b.MAX_ELEVATION_METERS))}


@st.composite
def events(draw):
    """Any workout event with every field within its bounds."""
    at = draw(times)
    event = {"event_id": draw(ids), "occurred_at": at, "user_id": draw(ids),
             "workout_id": draw(ids), "device_id": draw(ids),
             "seq": draw(st.integers(0, b.MAX_SEQ))}
    kind = draw(st.sampled_from(["WorkoutStarted", "WorkoutUpdated", "WorkoutPaused",
                                 "WorkoutResumed", "WorkoutCompleted", "WorkoutCancelled"]))
    event["type"] = kind
    if kind == "WorkoutStarted":
        event |= {"sport_type": draw(st.sampled_from(b.SPORT_TYPES)),
                  "start_time": at + draw(st.integers(-b.MAX_START_LAG_MS,
                                                      b.CLOCK_TOLERANCE_MS)),
                  "location": {"latitude": draw(lat), "longitude": draw(lon)},
                  "device_model": draw(st.text(max_size=b.MAX_TEXT_LENGTH))}
    elif kind == "WorkoutUpdated":
        event |= {"current_distance_meters": draw(st.floats(0, b.MAX_DISTANCE_METERS)),
                  "avg_heart_rate": draw(heart_rates), "heart_rate": draw(heart_rates),
                  "current_speed": draw(st.none() | st.floats(0, b.MAX_SPEED_MPS)),
                  "position": draw(st.none() | st.fixed_dictionaries({"lat": lat, "lon": lon})),
                  "elevation_meters": None,
                  "samples": draw(st.lists(samples(), max_size=5))}
    elif kind == "WorkoutCompleted":
        event |= {"end_time": at + draw(st.integers(-b.MAX_END_LAG_MS, b.CLOCK_TOLERANCE_MS)),
                  "duration_sec": draw(st.integers(0, b.MAX_WORKOUT_DURATION_MS // 1000)),
                  "distance_meters": draw(st.floats(0, b.MAX_DISTANCE_METERS)),
                  "calories_burned": draw(st.floats(0, b.MAX_CALORIES)),
                  "route_coordinates": draw(st.lists(
                      st.fixed_dictionaries({"lat": lat, "lon": lon}), max_size=5))}
    elif kind == "WorkoutCancelled":
        event["reason"] = draw(st.none() | st.text(max_size=b.MAX_TEXT_LENGTH))
    return event


@given(events())
def test_an_event_within_every_bound_has_no_problem(event):
    assert event_bound_problems(event) == []


def test_the_simulated_fleet_is_within_bounds():
    spec = FleetSpec(users=5, days=3, seed=7, start_ms=T0, chaos=ChaosKnobs(malformed=0))
    checked = 0
    for record in simulate_fleet(spec):
        assert event_bound_problems(record.event) == [], record.event
        checked += 1
    assert checked > 100


# (field, a value outside its bounds, the event types that carry it)
OUT_OF_BOUNDS = [
    ("user_id", "x" * 1_000_000, None), ("workout_id", "' OR 1=1 --", None),
    ("device_id", "", None), ("event_id", 42, None),
    ("type", "WorkoutExploded", None),
    ("occurred_at", 1, None), ("occurred_at", 1.5, None), ("occurred_at", True, None),
    ("seq", -1, None), ("seq", b.MAX_SEQ + 1, None), ("seq", 0.9, None),
    ("sport_type", "quidditch", "WorkoutStarted"),
    ("device_model", "m" * (b.MAX_TEXT_LENGTH + 1), "WorkoutStarted"),
    ("reason", "r" * (b.MAX_TEXT_LENGTH + 1), "WorkoutCancelled"),
    ("start_time", 1, "WorkoutStarted"),
    ("start_time", "T0", "WorkoutStarted"),
    ("end_time", -5, "WorkoutCompleted"),
    ("current_distance_meters", -1.0, "WorkoutUpdated"),
    ("current_distance_meters", float("nan"), "WorkoutUpdated"),
    ("current_distance_meters", b.MAX_DISTANCE_METERS * 2, "WorkoutUpdated"),
    ("heart_rate", 300, "WorkoutUpdated"), ("heart_rate", 19, "WorkoutUpdated"),
    ("avg_heart_rate", 1000, "WorkoutUpdated"),
    ("current_speed", -0.1, "WorkoutUpdated"),
    ("current_speed", float("inf"), "WorkoutUpdated"),
    ("elevation_meters", 50_000.0, "WorkoutUpdated"),
    ("duration_sec", -1, "WorkoutCompleted"),
    ("duration_sec", b.MAX_WORKOUT_DURATION_MS, "WorkoutCompleted"),
    ("distance_meters", -5000.0, "WorkoutCompleted"),
    ("calories_burned", -1.0, "WorkoutCompleted"),
    ("calories_burned", 1e12, "WorkoutCompleted"),
]


@given(events(), st.sampled_from(OUT_OF_BOUNDS))
def test_each_field_out_of_bounds_is_named(event, case):
    name, value, carried_by = case
    if carried_by is not None and event["type"] != carried_by:
        return
    event[name] = value
    problems = event_bound_problems(event)
    assert problems, (name, value)
    assert any(p.startswith(f"{name}:") for p in problems), problems


@given(events(), st.integers(1, 10**15))
def test_start_time_is_bounded_against_occurred_at(event, off):
    """Finding 13: a workout cannot claim to have started in 1970, or long before (or
    after) the event that starts it."""
    event |= {"type": "WorkoutStarted", "sport_type": "running",
              "location": {"latitude": 0.0, "longitude": 0.0}, "device_model": "x"}
    at = event["occurred_at"]
    event["start_time"] = at - b.MAX_START_LAG_MS - off
    assert any(p.startswith("start_time:") for p in event_bound_problems(event))
    event["start_time"] = at + b.CLOCK_TOLERANCE_MS + off
    assert any(p.startswith("start_time:") for p in event_bound_problems(event))
    event["start_time"] = at - b.MAX_START_LAG_MS
    assert event_bound_problems(event) == []


def test_a_start_time_of_1_with_occurred_at_now_is_refused():
    event = {"event_id": "e1", "type": "WorkoutStarted", "occurred_at": T0, "user_id": "u",
             "workout_id": "w", "device_id": "d", "seq": 0, "sport_type": "running",
             "start_time": 1, "location": {"latitude": 52.5, "longitude": 13.4},
             "device_model": "x"}
    assert event_bound_problems(event) == [
        f"start_time: 1 is outside {b.EARLIEST_EVENT_MS:g} to {2**63 - 1:g}"]


@given(events(), st.integers(0, 9), st.sampled_from([
    ("offset_ms", -1), ("offset_ms", b.MAX_WORKOUT_DURATION_MS + 1),
    ("distance_meters", -0.5), ("heart_rate", 251), ("speed", 101.0), ("lat", 90.5),
    ("lon", -180.5), ("elevation_meters", -2000.0), ("lat", None)]))
def test_a_sample_out_of_bounds_is_named_by_its_index(event, index, case):
    name, value = case
    good = [{"offset_ms": i * 1000, "distance_meters": i * 3.0, "heart_rate": 140,
             "speed": 3.0, "lat": 52.5, "lon": 13.4, "elevation_meters": 40.0}
            for i in range(10)]
    good[index][name] = value
    event |= {"type": "WorkoutUpdated", "samples": good}
    for key in ("sport_type", "start_time", "location", "device_model", "end_time",
                "duration_sec", "distance_meters", "calories_burned", "route_coordinates",
                "reason"):
        event.pop(key, None)
    problems = event_bound_problems(event)
    assert [p for p in problems if p.startswith("samples")] == [
        p for p in problems if p.startswith(f"samples[{index}].{name}:")], problems
    assert len(problems) == 1, problems


def test_too_many_samples_or_route_points_are_refused_without_reading_them():
    event = {"samples": [None] * (b.MAX_SAMPLES_PER_EVENT + 1),
             "route_coordinates": [None] * (b.MAX_ROUTE_POINTS + 1)}
    assert event_bound_problems(event) == [
        f"samples: {b.MAX_SAMPLES_PER_EVENT + 1} samples, at most {b.MAX_SAMPLES_PER_EVENT}",
        f"route_coordinates: {b.MAX_ROUTE_POINTS + 1} points, at most {b.MAX_ROUTE_POINTS}"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10)
FIELDS = ["event_id", "type", "occurred_at", "user_id", "workout_id", "device_id", "seq",
          "sport_type", "start_time", "location", "device_model", "current_distance_meters",
          "avg_heart_rate", "heart_rate", "current_speed", "position", "elevation_meters",
          "samples", "end_time", "duration_sec", "distance_meters", "calories_burned",
          "route_coordinates", "reason"]


@given(st.dictionaries(st.sampled_from(FIELDS), json_values))
def test_never_raises_on_untrusted_json(event):
    problems = event_bound_problems(event)
    assert all(isinstance(p, str) and len(p) < 400 for p in problems)


@given(times, st.integers(-10**12, 10**12), st.integers(0, 10**9))
def test_ahead_of_is_strictly_more_than_the_skew(now, delta, skew):
    event = {"occurred_at": now + delta}
    assert ahead_of(event, now, skew) == (delta > skew)
    assert (future_problem(event, now, skew) is None) == (delta <= skew)


def test_the_default_skew_is_five_minutes():
    assert b.MAX_FUTURE_SKEW_MS == 300_000
    assert ahead_of({"occurred_at": T0 + 300_001}, T0)
    assert not ahead_of({"occurred_at": T0 + 300_000}, T0)
    year_2100 = 4_102_444_800_000
    assert future_problem({"occurred_at": year_2100}, T0) == (
        f"occurred_at: {year_2100} is {year_2100 - T0} ms ahead of {T0}; at most 300000 ms")


@given(times, st.integers(-10**10, 10**10))
def test_a_completion_lasts_from_zero_to_the_longest_workout(start, span):
    problems = completion_problems(start, start + span)
    assert (problems == []) == (0 <= span <= b.MAX_WORKOUT_DURATION_MS)
    assert all(p.startswith("end_time:") for p in problems)


@given(times, st.integers(0, b.MAX_WORKOUT_DURATION_MS), st.floats(0, 1e9))
def test_a_completion_covers_at_most_the_speed_limit_over_its_span(start, span, distance):
    problems = completion_problems(start, start + span, distance)
    fast = distance > b.MAX_SPEED_MPS * span / 1000 + b.DISTANCE_SLACK_METERS
    assert (problems != []) == fast
    assert all(p.startswith("distance_meters:") for p in problems)
