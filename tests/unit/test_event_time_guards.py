"""Issue 9 findings 2 and 13 in the processor: events from the future, events out of
bounds, and refused events never move a user's clock (issue 10: a clock per user)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain import event_bounds as b
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.session_batch import UserClocks, apply_batch
from tests.unit.test_workout_session import T0, WorkoutScript

POLICY = EventTimePolicy(allowed_lateness_ms=48 * 3_600_000,
                         unknown_workout_timeout_ms=15 * 60_000)
YEAR_2100 = 4_102_444_800_000
MINUTE = 60_000


def run(batches, clocks=None, sessions=None, policy=POLICY):
    """apply_batch over batches of (event, Kafka record timestamp); the ref is the
    timestamp, as an engine's ref leads to its record's. Returns every rejection as
    (workout, seq, reason), the last summary per workout, and the users' clocks."""
    clocks = clocks if clocks is not None else UserClocks()
    sessions = sessions if sessions is not None else {}
    rejected, summaries = [], {}
    for batch in batches:
        result = apply_batch(batch, sessions.get, clocks, policy,
                             record_time=lambda ref: ref)
        sessions.update(result.sessions)
        rejected += [(r.event["workout_id"], r.event["seq"], r.reason)
                     for r in result.rejections]
        summaries |= {s["workout_id"]: s for s in result.summaries}
    return rejected, summaries, clocks


def test_a_year_2100_event_is_from_the_future_and_no_one_else_is_late_after_it():
    """The finding's reproduction: one device dates an event in 2100; before the fix
    the partition's watermark jumped to 2100 and every later event of every user on
    the partition was dead-lettered as late. Now it is refused, and clocks are per user
    anyway."""
    attacker = WorkoutScript("w-attacker", "u-attacker").started(at=YEAR_2100)
    victim = (WorkoutScript("w-victim", "u-victim").started(at=T0 + MINUTE)
              .updated(T0 + 2 * MINUTE, 300.0, [140])
              .completed(T0 + 3 * MINUTE, 500.0))
    rejected, summaries, clocks = run([
        [(attacker.events[0], T0)],
        [(e, e["occurred_at"]) for e in victim.events]])
    assert rejected == [("w-attacker", 0, DeadLetterReason.FROM_FUTURE)]
    assert summaries["w-victim"]["status"] == "completed"
    assert summaries["w-victim"]["distance_meters"] == 500.0
    assert "w-attacker" not in summaries
    assert clocks["u-victim"].latest == T0 + 3 * MINUTE
    assert clocks["u-attacker"].latest == 0


@settings(max_examples=200, deadline=None)
@given(ahead=st.integers(-10 * 86_400_000, 100 * 365 * 86_400_000),
       skew=st.integers(0, 3_600_000))
def test_from_future_is_judged_against_the_record_timestamp_only(ahead, skew):
    """Deterministic on replay: the decision depends on the event and its record."""
    policy = EventTimePolicy(POLICY.allowed_lateness_ms, POLICY.unknown_workout_timeout_ms,
                             max_future_skew_ms=skew)
    event = WorkoutScript().started(at=T0 + ahead).events[0]
    first, _, clocks = run([[(event, T0)]], policy=policy)
    again, _, _ = run([[(event, T0)]], policy=policy)
    assert first == again
    if ahead > skew:
        assert first == [("w-1", 0, DeadLetterReason.FROM_FUTURE)]
        assert clocks["u-1"].latest == 0
    else:
        assert first == []
        assert clocks["u-1"].latest == T0 + ahead


def test_the_default_future_skew_is_the_bounds_module_s():
    assert EventTimePolicy().max_future_skew_ms == b.MAX_FUTURE_SKEW_MS == 5 * MINUTE


@settings(max_examples=100, deadline=None)
@given(ahead_h=st.integers(49, 10_000), kind=st.sampled_from(
    ["conflicting_seq", "illegal_transition", "out_of_bounds"]))
def test_a_refused_event_never_moves_the_clock(ahead_h, kind):
    """An event the processor refuses, for any reason, leaves its user's clock where it
    was, so no later event of theirs becomes late because of it. (No record timestamps
    here: the from-future guard must not be what saves it.)"""
    base = WorkoutScript("w-1", "u-1").started(at=T0)
    later = T0 + ahead_h * 3_600_000
    if kind == "conflicting_seq":  # another event at an applied seq
        refused = WorkoutScript("w-1", "u-1").started(at=later).events[0]
        refused["event_id"] = "another-event"
    elif kind == "illegal_transition":  # resumed while active
        refused = WorkoutScript("w-1", "u-1").started().resumed(later).events[1]
    else:
        refused = WorkoutScript("w-2", "u-1").started(at=later).events[0]
        refused["start_time"] = 1
    after = WorkoutScript("w-3", "u-1").started(at=T0 + MINUTE)
    clocks = UserClocks()
    sessions: dict = {}
    for batch in ([base.events[0]], [refused], after.events):
        result = apply_batch([(e, None) for e in batch], sessions.get, clocks, POLICY)
        sessions.update(result.sessions)
        if batch == [refused]:
            assert [r.event for r in result.rejections] == [refused]
            assert clocks["u-1"].latest == T0
    assert clocks["u-1"].latest == T0 + MINUTE
    assert sessions["u-1/w-3"].summary()["status"] == "active"  # not late


def test_a_workout_started_in_1970_is_dead_lettered_out_of_bounds():
    """Finding 13: start_time 1 with occurred_at now, then a completion, gave 57 years
    of moving time that ranked first on the all-time board."""
    script = WorkoutScript().started(at=T0).completed(T0 + 30 * MINUTE, 5000.0)
    script.events[0]["start_time"] = 1
    rejected, summaries, _ = run([[(e, e["occurred_at"]) for e in script.events]])
    assert rejected == [("w-1", 0, DeadLetterReason.OUT_OF_BOUNDS)]
    assert summaries == {}  # never started; the completion waits for a start


@settings(max_examples=100, deadline=None)
@given(field=st.sampled_from(["distance_meters", "calories_burned", "duration_sec"]),
       value=st.sampled_from([-1, -5000.0, 10**12]))
def test_a_completion_out_of_bounds_is_dead_lettered_before_it_touches_state(field, value):
    script = WorkoutScript().started(at=T0).completed(T0 + 30 * MINUTE, 5000.0)
    script.events[1][field] = value
    rejected, summaries, clocks = run([[(e, e["occurred_at"]) for e in script.events]])
    assert rejected == [("w-1", 1, DeadLetterReason.OUT_OF_BOUNDS)]
    assert summaries["w-1"]["status"] == "active"
    assert clocks["u-1"].latest == T0


@settings(max_examples=100, deadline=None)
@given(duration=st.integers(0, 2 * b.MAX_WORKOUT_DURATION_MS))
def test_a_workout_lasts_at_most_the_longest_workout(duration):
    """Every event is within its own bounds, but the span from the session's start to
    the end is not: the session refuses the completion, and moving time never exceeds
    the workout's span."""
    end = T0 + duration
    script = WorkoutScript().started(at=T0).completed(end, 500.0)
    events = script.events
    rejected, summaries, _ = run([[(events[0], T0)], [(events[1], end)]])
    summary = summaries["w-1"]
    if duration <= b.MAX_WORKOUT_DURATION_MS:
        assert rejected == []
        assert summary["status"] == "completed"
        assert summary["moving_duration_ms"] == duration
    else:
        assert rejected == [("w-1", 1, DeadLetterReason.OUT_OF_BOUNDS)]
        assert summary["status"] == "active"


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(0, 86_400), speed=st.floats(0, 300))
def test_a_completion_faster_than_the_speed_limit_is_refused(seconds, speed):
    """Finding 13's "every distance against physical limits": the distance of a
    completion must be coverable in its span."""
    distance = round(speed * seconds, 1)
    script = WorkoutScript().started(at=T0).completed(T0 + seconds * 1000, distance)
    rejected, summaries, _ = run([[(e, e["occurred_at"]) for e in script.events]])
    if distance <= min(b.MAX_SPEED_MPS * seconds + b.DISTANCE_SLACK_METERS,
                       b.MAX_DISTANCE_METERS):
        assert rejected == []
        assert summaries["w-1"]["distance_meters"] == distance
    else:
        assert rejected == [("w-1", 1, DeadLetterReason.OUT_OF_BOUNDS)]
        assert summaries["w-1"]["status"] == "active"
