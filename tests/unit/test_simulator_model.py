"""The simulator's generative model: Banister fitness, the plan, habits, breaks, intensities.

These tests read the simulator's hidden state (AthleteDay, Session) on purpose: they check
the model itself. What a device sends is checked against it where it matters (race
distance and pace, heart-rate bands, no workout on a break).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.simulator.athlete import WARMUP_DAYS, Athlete, Session
from fitstream.simulator.fitness import BanisterModel, FitnessState, trimp
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, Workout, simulate_fleet
from fitstream.simulator.physiology import INTENSITY_HRR
from fitstream.simulator.training_plan import TrainingPlan, WeekKind

START = 1_793_577_600_000  # 2026-11-02, a Monday
DAY_MS = 86_400_000
CLEAN = ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0)
MODEL = BanisterModel()


def band(avg_hr: float) -> str:
    """The intensity bands of CONTRACT.md (fitstream/domain/workout_kind.py)."""
    return "easy" if avg_hr < 140 else "moderate" if avg_hr < 160 else "hard"


def life(seed: int, index: int, days: int):
    return list(Athlete(seed, index, START).days(days))


def recorded(session: Session) -> tuple[dict, float]:
    """The session's WorkoutCompleted event and the mean of its heart-rate samples."""
    events = Workout(session, "u", "d", 70.0).events()
    rates = [s["heart_rate"] for e in events for s in e.get("samples", ()) if s["heart_rate"]]
    return events[-1], sum(rates) / len(rates)


@given(st.integers(0, 2**32), st.integers(0, 500))
@settings(max_examples=20, deadline=None)
def test_an_athlete_is_the_same_for_the_same_seed(seed, index):
    first, again = life(seed, index, 21), life(seed, index, 35)
    # The same days, and a longer fleet only appends days.
    assert first == again[: len(first)]
    assert Athlete(seed, index, START).traits == Athlete(seed, index, START).traits


def test_the_fleet_log_is_the_same_for_the_same_seed_and_differs_for_another():
    spec = FleetSpec(users=4, days=10, seed=3, start_ms=START)
    logged = [(r.key, r.event, r.raw) for r in simulate_fleet(spec)]
    assert logged == [(r.key, r.event, r.raw) for r in simulate_fleet(spec)]
    other = dataclasses.replace(spec, seed=4)
    assert logged != [(r.key, r.event, r.raw) for r in simulate_fleet(other)]


@given(st.floats(10, 150), st.integers(14, 42), st.integers(3, 30))
def test_fitness_rises_over_a_build_and_fatigue_decays_faster(daily_load, build_days, rest_days):
    state = FitnessState()
    for _ in range(build_days):
        before, state = state, state.next_day(MODEL, daily_load)
        assert state.fitness > before.fitness
    built = state
    for _ in range(rest_days):
        state = state.next_day(MODEL, 0.0)
    assert state.fatigue / built.fatigue < state.fitness / built.fitness < 1.0


@given(st.floats(5, 100))
def test_a_steady_load_converges_to_the_steady_state(daily_load):
    steady = MODEL.steady_state(daily_load)
    again = steady.next_day(MODEL, daily_load)
    assert abs(again.fitness - steady.fitness) < 1e-6 * steady.fitness
    assert abs(again.fatigue - steady.fatigue) < 1e-6 * steady.fatigue
    assert MODEL.performance(steady) > 0  # long-term training pays


@given(st.floats(10, 120), st.floats(0.3, 0.7), st.floats(0.71, 0.95))
def test_hard_minutes_load_more_than_easy_ones(minutes, easy, hard):
    assert trimp(minutes, hard) > trimp(minutes, easy) > 0
    assert trimp(2 * minutes, easy) > trimp(minutes, easy)


def test_athletes_get_fitter_over_most_build_blocks():
    """Fitness at the end of an unbroken build block is above its start for most blocks
    (not all: skipped days and a block after a high-load stretch can stay flat)."""
    blocks = rising = 0
    for index in range(20):
        run: list = []
        for day in [*life(5, index, 140), None]:
            if day is not None and day.week.kind is WeekKind.BUILD and not day.on_break:
                run.append(day)
                continue
            if len(run) >= 14:
                blocks += 1
                rising += run[-1].state.fitness > run[0].state.fitness
            run = []
    assert blocks >= 10
    assert rising >= 0.8 * blocks


@given(st.integers(0, 2**32), st.sampled_from(("5k", "10k", "half_marathon")),
       st.sampled_from((2, 3)))
@settings(max_examples=30)
def test_every_plan_tapers_below_its_build_weeks_before_the_race(seed, preferred, build_weeks):
    plan = TrainingPlan(random.Random(seed), preferred, build_weeks)
    weeks = [plan.week(n) for n in range(60)]
    races = [w for w in weeks if w.kind is WeekKind.RACE]
    assert races
    for race_week in races:
        if race_week.index + 1 >= len(weeks):
            continue
        before = weeks[: race_week.index]
        tapers = list(itertools.takewhile(lambda w: w.kind is WeekKind.TAPER, reversed(before)))
        assert 1 <= len(tapers) <= 2
        assert len(tapers) == (2 if race_week.race.distance == "half_marathon" else 1)
        last_build = next(w for w in reversed(before) if w.kind is WeekKind.BUILD)
        assert all(t.load_factor < last_build.load_factor for t in tapers)
        assert race_week.load_factor < min(t.load_factor for t in tapers)
        assert weeks[race_week.index + 1].kind is WeekKind.POST_RACE


def test_athletes_train_less_in_taper_weeks_than_in_build_weeks():
    weekly = defaultdict(list)  # week kind -> realised weekly loads
    for index in range(30):
        by_week = defaultdict(list)
        for day in life(9, index, 180):
            by_week[day.week.index].append(day)
        for days in by_week.values():
            if len(days) == 7 and not any(d.on_break for d in days):
                weekly[days[0].week.kind].append(sum(d.load for d in days))
    assert statistics.mean(weekly[WeekKind.TAPER]) < 0.8 * statistics.mean(weekly[WeekKind.BUILD])
    assert statistics.mean(weekly[WeekKind.RECOVERY]) < statistics.mean(weekly[WeekKind.BUILD])


def test_races_cover_their_distance_at_race_pace_faster_than_easy_runs():
    races = 0
    for index in range(25):
        days = [d for d in life(13, index, 120) if d.day >= 0]
        sessions = [s for d in days for s in d.sessions]
        easy_speeds = []
        for s in sessions:
            if s.sport == "running" and s.intensity == "easy" and s.cancel_share is None:
                done, _ = recorded(s)
                easy_speeds.append(done["distance_meters"] / done["duration_sec"])
        for s in sessions:
            if s.race_distance_m is None:
                continue
            races += 1
            done, avg_hr = recorded(s)
            assert s.sport == "running"
            assert done["type"] == "WorkoutCompleted"
            assert s.race_distance_m <= done["distance_meters"] < s.race_distance_m + 50
            pace = done["distance_meters"] / done["duration_sec"]
            assert abs(pace / s.speed_mps - 1) < 0.03  # at the planned race pace
            assert all(pace > v for v in easy_speeds)
            assert band(avg_hr) == "hard"
    assert races >= 10


def test_break_days_have_no_workouts_in_the_model_or_the_log():
    spec = FleetSpec(users=30, days=120, seed=17, start_ms=START, chaos=CLEAN)
    break_days = set()
    for index in range(spec.users):
        for day in Athlete(spec.seed, index, START).days(spec.days):
            if day.on_break:
                assert day.sessions == () and day.load == 0
                if day.day >= 0:
                    break_days.add((f"user-{index:05d}", day.day))
    assert len(break_days) >= 7 * 10  # some athletes took a break in those four months
    started = {(r.event["user_id"], (r.event["start_time"] - START) // DAY_MS)
               for r in simulate_fleet(spec)
               if r.event["type"] == "WorkoutStarted"}
    assert started and not started & break_days


@given(st.sampled_from(("easy", "moderate", "hard")), st.floats(25, 90),
       st.integers(0, 2**32), st.sampled_from((0, 0, 1, 2)))
@settings(max_examples=25, deadline=None)
def test_a_typical_athletes_sessions_land_in_their_heart_rate_band(intensity, minutes, seed,
                                                                   pauses):
    resting, maximum, fatigue_bpm = 59.0, 183.0, 3.0  # a typical athlete, habitual fatigue
    steady = resting + INTENSITY_HRR[intensity] * (maximum - resting) + fatigue_bpm
    pauses = 0 if intensity == "hard" else pauses  # the model never pauses a hard session
    session = Session(0, START, "running", intensity, minutes, None, 2.8, steady, resting,
                      None, pauses, seed, 0.0)
    _, avg_hr = recorded(session)
    assert band(avg_hr) == intensity


def test_most_sessions_of_the_fleet_land_in_their_intended_band():
    agree = total = 0
    for index in range(20):
        for day in life(21, index, 28):
            for s in day.sessions:
                if day.day >= 0 and s.cancel_share is None:
                    total += 1
                    agree += band(recorded(s)[1]) == s.intensity
    assert total > 150
    assert agree / total >= 0.85


def test_habits_breaks_and_the_season_shape_the_fleet():
    sports, hours = defaultdict(int), defaultdict(set)
    for index in range(30):
        athlete = Athlete(2, index, START)
        swing = [athlete.motivation(d) for d in range(365)]
        amplitude = athlete.traits.season_amplitude
        assert max(swing) - min(swing) > 1.9 * amplitude * 0.99
        for day in athlete.days(56):
            for s in day.sessions:
                if day.day >= 0:
                    sports[s.sport] += 1
                    hours[index].add((s.start_ms - START) // 3_600_000 % 24)
    # Running dominates, and other sports keep appearing (cross-training habits).
    assert max(sports, key=sports.get) == "running"
    assert len(sports) >= 5 and sum(sports.values()) - sports["running"] > 100
    # Habitual hours: most athletes train in at most a handful of hours of the day.
    assert statistics.median(len(h) for h in hours.values()) <= 6


def test_fitter_is_faster_at_the_same_heart_rate_and_fatigue_slower_and_higher():
    athlete = Athlete(4, 0, START)
    base = athlete.state
    fitter = dataclasses.replace(base, fitness=base.fitness * 1.3)
    tired = dataclasses.replace(base, fatigue=base.fatigue * 1.5)
    assert athlete.performance_factor(fitter) > athlete.performance_factor(base)
    assert athlete.performance_factor(tired) < athlete.performance_factor(base)
    assert athlete.fatigue_bpm(tired) > athlete.fatigue_bpm(base)


def test_events_carry_only_what_a_device_measures():
    allowed = {"event_id", "type", "occurred_at", "user_id", "workout_id", "device_id", "seq",
               "sport_type", "start_time", "location", "device_model",
               "current_distance_meters", "avg_heart_rate", "heart_rate", "current_speed",
               "position", "elevation_meters", "samples", "reason", "end_time",
               "duration_sec", "distance_meters", "calories_burned", "route_coordinates"}
    for record in simulate_fleet(FleetSpec(users=5, days=7, seed=1, start_ms=START,
                                           chaos=CLEAN)):
        assert set(record.event) <= allowed


def test_the_warm_up_happens_before_the_log():
    days = life(6, 3, 7)
    assert days[0].day == -WARMUP_DAYS and days[-1].day == 6
