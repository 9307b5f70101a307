"""The workout state machine: ordering, duplicates, transitions and moving time."""

from __future__ import annotations

import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.event_time import MOVES_KEPT, EventTimePolicy, UserClock
from fitstream.domain.session_batch import UserClocks, apply_batch
from fitstream.domain.workout_session import WorkoutSession, WorkoutStatus

T0 = 1_793_606_400_000  # 2026-11-02 08:00 UTC
FIVE_MIN = EventTimePolicy(allowed_lateness_ms=48 * 3_600_000, unknown_workout_timeout_ms=300_000)


class WorkoutScript:
    """Builds one workout's events in seq order, the way a device numbers them."""

    def __init__(self, workout_id: str = "w-1", user_id: str = "u-1") -> None:
        self.workout_id, self.user_id = workout_id, user_id
        self.events: list[dict] = []

    def _add(self, kind: str, at: int, **payload) -> WorkoutScript:
        self.events.append({
            "event_id": str(uuid.UUID(int=random.Random(f"{self.workout_id}{len(self.events)}")
                                      .getrandbits(128), version=4)),
            "type": kind, "occurred_at": at, "user_id": self.user_id,
            "workout_id": self.workout_id, "device_id": "d-1", "seq": len(self.events),
            **payload})
        return self

    def started(self, at: int = T0, sport: str = "running") -> WorkoutScript:
        return self._add("WorkoutStarted", at, sport_type=sport, start_time=at,
                         location={"latitude": 52.5, "longitude": 13.4}, device_model="x")

    def updated(self, at: int, distance: float, heart_rates: list[int | None]) -> WorkoutScript:
        # Offsets count from the workout's start (T0 if this script has no start).
        start = next((e["start_time"] for e in self.events
                      if e["type"] == "WorkoutStarted"), T0)
        samples = [{"offset_ms": at - start, "distance_meters": distance, "heart_rate": hr,
                    "speed": 3.0, "lat": 52.5, "lon": 13.4, "elevation_meters": 40.0}
                   for hr in heart_rates]
        return self._add("WorkoutUpdated", at, current_distance_meters=distance,
                         avg_heart_rate=None, heart_rate=heart_rates[-1] if heart_rates else None,
                         current_speed=3.0, position=None, elevation_meters=None,
                         samples=samples)

    def paused(self, at: int) -> WorkoutScript:
        return self._add("WorkoutPaused", at)

    def resumed(self, at: int) -> WorkoutScript:
        return self._add("WorkoutResumed", at)

    def completed(self, at: int, distance: float, calories: float = 300.0) -> WorkoutScript:
        return self._add("WorkoutCompleted", at, end_time=at, duration_sec=0,
                         distance_meters=distance, calories_burned=calories,
                         route_coordinates=[])

    def cancelled(self, at: int) -> WorkoutScript:
        return self._add("WorkoutCancelled", at, reason="user_discarded")


def feed(events: list[dict], session: WorkoutSession | None = None):
    session = session or WorkoutSession(events[0]["workout_id"], events[0]["user_id"], "d-1")
    rejections = []
    for event in events:
        rejections += session.offer(event, ref=event["seq"])
    return session, rejections


def test_moving_time_excludes_pauses_and_summary_fields():
    script = (WorkoutScript().started()
              .updated(T0 + 10_000, 30.0, [120, 130])
              .paused(T0 + 60_000)
              .resumed(T0 + 90_000)
              .updated(T0 + 100_000, 95.5, [140, None])
              .completed(T0 + 120_000, 100.0, 12.5))
    session, rejections = feed(script.events)
    assert rejections == []
    assert session.summary() == {
        "workout_id": "w-1", "user_id": "u-1", "device_id": "d-1", "sport_type": "running",
        "status": "completed", "start_time": T0, "end_time": T0 + 120_000,
        "moving_duration_ms": 60_000 + 30_000, "distance_meters": 100.0,
        "calories_burned": 12.5, "avg_heart_rate": (120 + 130 + 140) / 3,
        "avg_speed_mps": 100.0 * 1000 / 90_000, "sample_count": 4, "last_seq": 5,
        "last_event_at": T0 + 120_000, "best_1k_ms": None, "best_5k_ms": None,
        "best_10k_ms": None,
    }


def test_active_workout_counts_moving_time_up_to_its_latest_event():
    session, _ = feed(WorkoutScript().started().updated(T0 + 45_000, 120.0, [150]).events)
    summary = session.summary()
    assert summary["status"] == "active"
    assert summary["moving_duration_ms"] == 45_000
    assert summary["end_time"] is None


def test_paused_then_cancelled_stops_the_clock_at_the_pause():
    events = WorkoutScript().started().paused(T0 + 20_000).cancelled(T0 + 80_000).events
    session, rejections = feed(events)
    assert rejections == []
    assert session.summary()["status"] == "cancelled"
    assert session.summary()["moving_duration_ms"] == 20_000
    assert session.summary()["end_time"] == T0 + 80_000


def test_v1_update_without_samples_counts_its_heart_rate_once():
    script = WorkoutScript().started()
    script.events.append({**script.events[0], "event_id": "v1-update", "type": "WorkoutUpdated",
                          "seq": 1, "occurred_at": T0 + 5000, "current_distance_meters": 10.0,
                          "heart_rate": 111, "samples": []})
    session, _ = feed(script.events)
    assert (session.sample_count, session.hr_sum, session.hr_count) == (1, 111, 1)


def test_out_of_order_events_wait_for_their_predecessors():
    events = WorkoutScript().started().updated(T0 + 5000, 15.0, [100]).paused(T0 + 6000).events
    session, _ = feed([events[2], events[1]])
    assert session.status is WorkoutStatus.PENDING
    assert sorted(session.pending) == [1, 2]
    assert session.summary() is None
    session, _ = feed([events[0]], session)
    assert session.status is WorkoutStatus.PAUSED
    assert session.pending == {}
    assert session.version == 2


def test_illegal_transitions_are_refused_and_seq_moves_on():
    script = WorkoutScript().started().resumed(T0 + 1000).paused(T0 + 2000).paused(T0 + 3000)
    script.resumed(T0 + 4000).completed(T0 + 5000, 10.0).updated(T0 + 6000, 11.0, [90])
    session, rejections = feed(script.events)
    assert [(r.event["seq"], r.reason) for r in rejections] == [
        (1, DeadLetterReason.ILLEGAL_TRANSITION),
        (3, DeadLetterReason.ILLEGAL_TRANSITION),
        (6, DeadLetterReason.ILLEGAL_TRANSITION),
    ]
    assert rejections[0].detail == "WorkoutResumed (seq 1) in state active"
    assert rejections[2].ref == 6
    assert session.status is WorkoutStatus.COMPLETED
    assert session.summary()["distance_meters"] == 10.0


def test_a_first_event_that_is_not_a_start_is_illegal():
    events = WorkoutScript().started().events
    events[0] = {**events[0], "type": "WorkoutPaused"}
    session, rejections = feed(events)
    assert [r.reason for r in rejections] == [DeadLetterReason.ILLEGAL_TRANSITION]
    assert session.summary() is None


def test_a_different_event_at_an_applied_seq_is_a_conflict_not_a_duplicate():
    events = WorkoutScript().started().updated(T0 + 1000, 5.0, [100]).events
    impostor = {**events[1], "event_id": "ffffffff-0000-4000-8000-000000000000"}
    session, rejections = feed([*events, impostor, events[1]])
    assert [r.reason for r in rejections] == [DeadLetterReason.CONFLICTING_SEQ]
    assert session.version == 1


def test_state_round_trips_through_json_ready_dicts():
    import orjson

    events = WorkoutScript().started().updated(T0 + 1000, 5.0, [100]).paused(T0 + 2000).events
    session, _ = feed([events[0], events[2]])
    restored = WorkoutSession.from_state(orjson.loads(orjson.dumps(session.to_state())))
    restored.offer(events[1], ref=1)
    session.offer(events[1], ref=1)
    assert restored.summary() == session.summary()
    assert restored.to_state() == session.to_state()


# -- property: order and duplication never change the result -----------------------

@st.composite
def valid_workouts(draw) -> list[dict]:
    script = WorkoutScript(workout_id=f"w-{draw(st.integers(0, 10**6))}").started()
    at, distance, paused = T0, 0.0, False
    for _ in range(draw(st.integers(0, 25))):
        gap = draw(st.integers(1, 120_000))
        at += gap
        step = draw(st.sampled_from(["update", "update", "update", "toggle"]))
        if step == "toggle":
            (script.resumed if paused else script.paused)(at)
            paused = not paused
        else:
            # At most 50 m/s: the bounds refuse a completion faster than 100 m/s.
            distance += draw(st.floats(0, min(500.0, gap * 0.05), allow_nan=False))
            script.updated(at, distance, draw(st.lists(
                st.one_of(st.none(), st.integers(40, 210)), min_size=0, max_size=20)))
    at += draw(st.integers(1, 60_000))
    ending = draw(st.sampled_from(["completed", "cancelled", "open"]))
    if ending == "completed":
        script.completed(at, distance + 1, draw(st.floats(0, 2000, allow_nan=False)))
    elif ending == "cancelled":
        script.cancelled(at)
    return script.events


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(events=valid_workouts(), data=st.data())
def test_any_shuffle_and_duplication_gives_the_in_order_summary(events, data):
    expected, rejections = feed(events)
    assert rejections == []
    delivered = events + data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    delivered = data.draw(st.permutations(delivered))
    session, rejections = feed(delivered)
    assert rejections == []
    assert session.summary() == expected.summary()
    assert session.pending == {}


@settings(max_examples=150, deadline=None)
@given(events=valid_workouts(), split=st.integers(0, 60), data=st.data())
def test_batches_and_restarts_between_them_change_nothing(events, split, data):
    """apply_batch over any batching, with state stored and reloaded between batches."""
    import orjson

    delivered = data.draw(st.permutations(events + events[: split % (len(events) + 1)]))
    store: dict[str, bytes] = {}
    clock_store: dict[str, bytes] = {}
    summaries = []
    for start in range(0, len(delivered), max(1, split)):
        chunk = delivered[start:start + max(1, split)]
        clocks = UserClocks(lambda u: UserClock.from_state(orjson.loads(clock_store[u]))
                            if u in clock_store else None)
        result = apply_batch(
            ((e, e["seq"]) for e in chunk),
            lambda k: WorkoutSession.from_state(orjson.loads(store[k])) if k in store else None,
            clocks, EventTimePolicy(10**12, 10**12))
        assert result.rejections == []
        for key, session in result.sessions.items():
            store[key] = orjson.dumps(session.to_state())
        for user, clock in clocks.touched.items():
            clock_store[user] = orjson.dumps(clock.to_state())
        summaries += result.summaries
    expected, _ = feed(events)
    assert summaries[-1] == expected.summary()
    assert [s["last_seq"] for s in summaries] == sorted(s["last_seq"] for s in summaries)


def test_unknown_workout_is_dead_lettered_once_the_users_clock_passes_the_timeout():
    orphan = WorkoutScript("w-orphan").started().updated(T0 + 1000, 5.0, [90])
    orphan.paused(T0 + 2000)
    other = WorkoutScript("w-other").started(T0).updated(T0 + 10 * 60_000, 2000.0, [150])
    clocks = UserClocks()
    sessions: dict[str, WorkoutSession] = {}

    def run(events):
        result = apply_batch(((e, e["seq"]) for e in events), sessions.get, clocks, FIVE_MIN)
        sessions.update(result.sessions)
        return result

    first = run([orphan.events[1], orphan.events[2], other.events[0]])
    assert first.rejections == []
    # The user's clock when first seen (their own events only).
    assert clocks["u-1"].awaiting_start == {"w-orphan": T0 + 1000}
    later = run([other.events[1]])
    assert [(r.event["seq"], r.reason) for r in later.rejections] == [
        (1, DeadLetterReason.UNKNOWN_WORKOUT), (2, DeadLetterReason.UNKNOWN_WORKOUT)]
    assert clocks["u-1"].awaiting_start == {}
    too_late = run([orphan.events[0]])
    assert [r.reason for r in too_late.rejections] == [DeadLetterReason.UNKNOWN_WORKOUT]


def test_a_workout_synced_late_is_not_given_up_between_batches():
    """Its events are hours behind the user's clock, but the wait counts from arrival."""
    clocks = UserClocks(lambda _: UserClock(latest=T0 + 6 * 3_600_000))
    late = WorkoutScript("w-late").started().updated(T0 + 1000, 5.0, [90]).events
    sessions: dict[str, WorkoutSession] = {}
    first = apply_batch([(late[1], 1)], sessions.get, clocks, FIVE_MIN)
    sessions.update(first.sessions)
    second = apply_batch([(late[0], 0)], sessions.get, clocks, FIVE_MIN)
    assert first.rejections == second.rejections == []
    assert second.summaries[0]["last_seq"] == 1


def test_duplicates_are_counted_and_re_emit_the_unchanged_summary():
    events = WorkoutScript().started().updated(T0 + 1000, 5.0, [90]).events
    sessions: dict[str, WorkoutSession] = {}
    first = apply_batch(((e, 0) for e in events), sessions.get, UserClocks(), FIVE_MIN)
    sessions.update(first.sessions)
    again = apply_batch(((e, 0) for e in events), sessions.get, UserClocks(), FIVE_MIN)
    assert (again.duplicates, again.rejections) == (2, [])
    assert again.summaries == first.summaries


@settings(max_examples=200, deadline=None)
@given(lag_s=st.integers(0, 5 * 24 * 3600), lateness_h=st.integers(0, 96))
def test_an_event_is_late_exactly_when_it_lags_its_users_clock_by_more_than_the_lateness(
        lag_s, lateness_h):
    watermark = T0 + 10 * 24 * 3_600_000
    event = WorkoutScript("w-late").started(watermark - lag_s * 1000).events[0]
    policy = EventTimePolicy(allowed_lateness_ms=lateness_h * 3_600_000,
                             unknown_workout_timeout_ms=300_000)
    clocks = UserClocks(lambda _: UserClock(latest=watermark))
    result = apply_batch([(event, "ref")], lambda _: None, clocks, policy)
    if lag_s * 1000 > policy.allowed_lateness_ms:
        assert [(r.reason, r.ref) for r in result.rejections] == [(DeadLetterReason.LATE, "ref")]
        assert result.sessions == {}
        assert result.rejections[0].detail.startswith(f"{lag_s} s behind")
    else:
        assert result.rejections == []
        assert result.summaries[0]["workout_id"] == "w-late"
    assert clocks["u-1"].latest == watermark


def test_completions_are_reported_in_the_order_they_happen():
    a = WorkoutScript("w-a").started().completed(T0 + 50_000, 10.0).events
    b = WorkoutScript("w-b").started(T0 + 1000).completed(T0 + 20_000, 20.0).events
    result = apply_batch([(a[0], 0), (b[0], 1), (b[1], 2), (a[1], 3)], lambda _: None,
                         UserClocks(), FIVE_MIN)
    assert result.completed_now == ["u-1/w-b", "u-1/w-a"]
    assert [s["workout_id"] for s in result.completed_summaries()] == ["w-b", "w-a"]
    assert [s["workout_id"] for s in result.summaries] == ["w-a", "w-b"]


def test_a_replayed_event_is_judged_against_its_users_clock_as_it_was_the_first_time():
    """After a crash the stored clock is ahead of the resumed position; the replay must
    make the same lateness decisions as the first pass, not call old events late."""
    day = 24 * 3_600_000
    early = WorkoutScript("w-early").started(T0).updated(T0 + 1000, 5.0, [90]).events
    later = WorkoutScript("w-later").started(T0 + 5 * day).events
    sessions: dict[str, WorkoutSession] = {}
    clocks = UserClocks()

    def at(ref: int) -> int:
        return ref

    first = apply_batch([(early[0], 0)], sessions.get, clocks, FIVE_MIN, position=at)
    sessions.update(first.sessions)
    second = apply_batch([(early[1], 1), (later[0], 2)], sessions.get, clocks, FIVE_MIN,
                         position=at)
    sessions.update(second.sessions)
    assert second.rejections == []
    assert clocks["u-1"].latest == T0 + 5 * day
    # The state of both batches was saved, but only the first batch's offset committed.
    stored = UserClock.from_state(clocks["u-1"].to_state())
    replay = apply_batch([(early[1], 1), (later[0], 2)], sessions.get,
                         UserClocks(lambda _: stored), FIVE_MIN, position=at)
    assert replay.rejections == []
    assert replay.duplicates == 2
    assert stored.to_state() == clocks["u-1"].to_state()
    # Without positions the same replay would refuse the early event as late.
    blind = apply_batch([(early[1], 1)], sessions.get, UserClocks(
        lambda _: UserClock.from_state(clocks["u-1"].to_state())), FIVE_MIN)
    assert [r.reason for r in blind.rejections] == [DeadLetterReason.LATE]


def test_state_is_pruned_only_behind_the_oldest_clock_a_replay_can_return_to():
    clock = UserClock()
    for position, at in enumerate([T0, T0 + 3_600_000, T0 + 7_200_000]):
        clock.advance(at, position)
    # A replay from the first event would see no clock at all: nothing is settled yet.
    assert (clock.latest, clock.settled) == (T0 + 7_200_000, 0)
    clock.rewind(1)
    assert clock.latest == T0
    clock.rewind(0)
    assert clock.latest == 0
    assert UserClock().settled == 0
    clock = UserClock()
    for position in range(MOVES_KEPT + 10):
        clock.advance(T0 + position, position)
    assert len(clock.moves) == MOVES_KEPT
    # The clock before the oldest kept move (at position 10) is the one at position 9.
    assert clock.floor == clock.settled == T0 + 9
    clock.rewind(10)
    assert clock.latest == T0 + 9
    # Further back than the kept moves: the floor, an upper bound of the true clock
    # (a replay may call late what it accepted, never accept what it refused).
    clock.rewind(3)
    assert clock.latest == T0 + 9


def test_a_completed_route_is_emitted_once_applied_and_again_for_a_repeated_completion():
    events = WorkoutScript("w-r").started().completed(T0 + 60_000, 100.0).events
    events[1]["route_coordinates"] = [{"lat": 52.5, "lon": 13.4}, {"lat": 52.6, "lon": 13.5}]
    sessions: dict[str, WorkoutSession] = {}
    early = apply_batch([(events[1], 1)], sessions.get, UserClocks(), FIVE_MIN)
    sessions.update(early.sessions)
    assert early.routes == []  # buffered: its start has not arrived
    done = apply_batch([(events[0], 0)], sessions.get, UserClocks(), FIVE_MIN)
    sessions.update(done.sessions)
    route = {"workout_id": "w-r", "user_id": "u-1", "end_time": T0 + 60_000,
             "lats": [52.5, 52.6], "lons": [13.4, 13.5]}
    assert done.routes == [route]
    again = apply_batch([(events[1], 1)], sessions.get, UserClocks(), FIVE_MIN)
    assert again.routes == [route]
    assert "completed_route" not in done.sessions["u-1/w-r"].to_state()
