"""The device simulator: deterministic, physiologically plausible, and as messy as asked."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

from fitstream.domain.workout_session import WorkoutSession
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, FleetTally, simulate_fleet

START = 1_793_577_600_000
CLEAN = ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0)


def records(spec, tally=None):
    return list(simulate_fleet(spec, tally))


def test_same_seed_same_log_and_another_seed_another():
    spec = FleetSpec(users=3, days=4, seed=5, start_ms=START)
    first = [(r.key, r.event, r.raw) for r in records(spec)]
    assert first == [(r.key, r.event, r.raw) for r in records(spec)]
    other = FleetSpec(users=3, days=4, seed=6, start_ms=START)
    assert first != [(r.key, r.event, r.raw) for r in records(other)]


def test_clean_workouts_follow_the_state_machine_with_device_moving_time():
    tally = FleetTally()
    by_workout = defaultdict(list)
    for record in records(FleetSpec(users=6, days=7, seed=1, start_ms=START, chaos=CLEAN), tally):
        by_workout[record.event["workout_id"]].append(record.event)
    assert tally.workouts == len(by_workout) > 10
    for events in by_workout.values():
        assert [e["seq"] for e in events] == list(range(len(events)))
        session = WorkoutSession(events[0]["workout_id"], events[0]["user_id"], "d")
        for event in events:
            assert session.offer(event) == []
        summary = session.summary()
        if summary["status"] == "completed":
            # The device's own moving time agrees with the state machine's (whole seconds).
            assert events[-1]["duration_sec"] == summary["moving_duration_ms"] // 1000
            samples = [s for e in events for s in e.get("samples", ())]
            assert all(b["offset_ms"] > a["offset_ms"] for a, b in itertools.pairwise(samples))
            assert 5 <= len(events[1]["samples"]) <= 20


def test_speeds_and_heart_rates_are_plausible_per_sport():
    speeds, heart_rates = defaultdict(list), []
    for record in records(FleetSpec(users=20, days=7, seed=3, start_ms=START, chaos=CLEAN)):
        event = record.event
        if event["type"] == "WorkoutCompleted":
            speeds[event["workout_id"]].append(event["distance_meters"] / event["duration_sec"])
        heart_rates += [s["heart_rate"] for s in event.get("samples", ()) if s["heart_rate"]]
    assert min(heart_rates) >= 60
    assert max(heart_rates) <= 210
    assert 110 <= statistics.median(heart_rates) <= 170
    assert all(0.3 < v[0] < 12 for v in speeds.values())


def test_chaos_knobs_inject_what_they_say():
    tally = FleetTally()
    produced = records(FleetSpec(users=10, days=7, seed=9, start_ms=START,
                                 chaos=ChaosKnobs(duplicate=0.05, out_of_order=0.05,
                                                  late=0.3, malformed=0.02)), tally)
    assert sum(r.raw is not None for r in produced) == tally.malformed > 0
    assert sum(r.duplicate for r in produced) == tally.duplicates > 0
    assert tally.late_workouts > 0
    assert tally.records == len(produced) == tally.events + tally.duplicates + tally.malformed
    delivered = [r.delivered_at for r in produced]
    assert delivered == sorted(delivered)
    swapped = defaultdict(list)
    for r in produced:
        if r.event and not r.duplicate:
            swapped[r.event["workout_id"]].append(r.event["seq"])
    assert any(seqs != sorted(seqs) for seqs in swapped.values())
