"""Issue 13 item 6, bounded state: terminal sessions retire (session_batch.py), and the
ids of counted workouts go with them (leaderboards.py, achievements.py), without
changing any view under any partitioning, batching or interleaving, or after a replay
of batches already applied (a crash between the state write and the offset commit).

The log spans ten weeks, so each user's settled clock (64 moves behind) passes the
retirement horizon (48 h + 9 days) of their early workouts, and it holds what could
tell a kept session from a retired one: re-deliveries of retired workouts (refused as
late), a device reusing a retired workout's id (a new workout, counted again), junk for
a retired and for a kept terminal workout, and a reuse in the middle of the log, so
that one batch (the backfill's) meets the old session and its successor."""

from __future__ import annotations

import random
import uuid
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain import pipeline
from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.session_batch import retirement_key
from jobs.backfill import DictState
from tests.engines.canonical import canonical
from tests.unit.test_pipeline import outputs_of
from tests.unit.test_workout_session import WorkoutScript

START = 1_793_577_600_000  # 2026-11-02 00:00 UTC
HOUR = 3_600_000
DAY = 24 * HOUR
DAYS = 70
POLICY = EventTimePolicy()
USERS = ("u-a", "u-b", "u-c")


def wid(user: str, day: int) -> str:
    return f"w-{user[-1]}-{day}"


def renamed(events: list[dict], tag: str) -> list[dict]:
    """The same events with new event ids: another device's (or a bug's) events."""
    return [{**e, "event_id": str(uuid.UUID(int=zlib.crc32(f"{tag}{e['event_id']}".encode())
                                            << 64 | e["seq"], version=4))}
            for e in events]


def long_log(seed: int) -> list[tuple[dict, int]]:
    """(event, record timestamp) in log order: a workout a day per user for ten weeks."""
    rng = random.Random(seed)
    timed: list[tuple[int, int, dict]] = []
    for u, user in enumerate(USERS):
        for day in range(DAYS):
            at = START + day * DAY + rng.randint(6, 20) * HOUR + u * 60_000
            script = WorkoutScript(wid(user, day), user).started(at).updated(
                at + 600_000, 2000.0 + day, [140, 150])
            if day >= DAYS - 3:
                script.completed(at + 1_200_000, 4000.0 + 10 * day)
            elif rng.random() < 0.1:
                script.cancelled(at + 900_000)
            elif rng.random() < 0.05:
                pass  # never ended: the phone died mid-workout
            else:
                script.completed(at + 1_200_000, 4000.0 + 10 * day)
            events = script.events
            if rng.random() < 0.2:  # a device that sends it all twice
                events = events + events
            for event in events:
                timed.append((event["occurred_at"], len(timed), event))
    timed.sort(key=lambda t: (t[0], t[1]))
    log = [(event, at) for at, _, event in timed]
    end = log[-1][1]
    # A reuse in the middle: day 50, u-a starts a new workout under day 3's id (retired
    # by then), with new event ids.
    middle = START + 50 * DAY + 23 * HOUR
    reuse_early = renamed(WorkoutScript(wid("u-a", 3), "u-a").started(middle)
                          .completed(middle + 1_800_000, 7000.0).events, "early")
    position = next(i for i, (_, at) in enumerate(log) if at > middle + 1_800_000)
    log[position:position] = [(e, middle + 1_800_000) for e in reuse_early]
    specials = []
    # Re-deliveries of a retired workout: late.
    specials += [(e, end) for e in WorkoutScript(wid("u-a", 5), "u-a").started(
        START + 5 * DAY).events]
    # Junk for a retired workout (a new update, fresh time) and for a kept one.
    junk = renamed(WorkoutScript(wid("u-b", 10), "u-b").started(end - HOUR).updated(
        end - HOUR, 100.0, [120]).events[1:], "junk")
    kept = renamed(WorkoutScript(wid("u-b", DAYS - 2), "u-b").started(end - HOUR).updated(
        end - HOUR, 100.0, [120]).updated(end - HOUR, 100.0, [120]).updated(
        end - HOUR, 100.0, [120]).events[3:], "kept")
    # A retired workout's id reused at the end: a new workout.
    reuse = renamed(WorkoutScript(wid("u-c", 20), "u-c").started(end - HOUR).updated(
        end - HOUR + 60_000, 1000.0, [130]).completed(end - HOUR + 600_000, 3000.0).events,
        "late-reuse")
    # More of u-b so their clock passes the junk workout's unknown-start timeout.
    after = WorkoutScript("w-b-after", "u-b").started(end).completed(end + HOUR, 100.0).events
    specials += [(e, end + HOUR) for e in junk + kept + reuse + after]
    return log + specials


def run_layout(log: list[tuple[dict, int]], partitions: int, batch: int,
               interleave: random.Random, replays: int = 0,
               ) -> tuple[dict[str, list[dict]], DictState]:
    """As tests/unit/test_pipeline.py; ``replays``: that many times, a random run of
    batches already applied is read again (state as after them), as after a crash."""
    by_partition: dict[int, list] = {}
    for event, at in log:
        p = zlib.crc32(event["user_id"].encode()) % partitions
        queue = by_partition.setdefault(p, [])
        queue.append((event, [p, len(queue), at]))
    state = DictState()
    results = []
    cursors = dict.fromkeys(by_partition, 0)
    crash_at = sorted(interleave.sample(range(1, max(2, len(log) // batch)),
                                        min(replays, max(1, len(log) // batch - 1))))
    steps = 0
    while cursors:
        p = interleave.choice(sorted(cursors))
        chunk = by_partition[p][cursors[p]:cursors[p] + batch]
        cursors[p] += batch
        if cursors[p] >= len(by_partition[p]):
            del cursors[p]
        result = pipeline.run_batch(chunk, state, POLICY)
        state.stored.update(result.snapshot)
        results.append(result)
        steps += 1
        if crash_at and steps == crash_at[0]:
            crash_at.pop(0)
            back = cursors.get(p, len(by_partition[p])) - batch * interleave.randint(1, 3)
            again = by_partition[p][max(0, back):cursors.get(p, len(by_partition[p]))]
            result = pipeline.run_batch(again, state, POLICY)
            state.stored.update(result.snapshot)
            results.append(result)
    return outputs_of(results), state


def per_user(log: list[tuple[dict, int]]) -> dict[str, list[dict]]:
    """One batch per user, as the Spark backfill runs the core."""
    users: dict[str, list] = {}
    for offset, (event, at) in enumerate(log):
        users.setdefault(event["user_id"], []).append((event, [0, offset, at]))
    return outputs_of([pipeline.run_batch(events, DictState(), POLICY)
                       for events in users.values()])


def views(outputs: dict) -> dict:
    """Everything but the dead letters (a replay may add needless `late` ones:
    fitstream/domain/event_time.py)."""
    return {k: v for k, v in canonical(outputs).items() if k != "rejections"}


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), partitions=st.sampled_from([1, 3, 8]),
       batch=st.sampled_from([1, 9, 60, 100_000]), order=st.integers(0, 2**32))
def test_retiring_sessions_and_counted_ids_changes_no_view(seed, partitions, batch, order):
    log = long_log(seed)
    expected = canonical(per_user(log))
    outputs, state = run_layout(log, partitions, batch, random.Random(order))
    assert canonical(outputs) == expected
    rejected = dict((event_id, reason) for reason, event_id in expected["rejections"])
    # Re-deliveries of a retired workout are late; junk for a retired workout waits
    # for a start that never comes; junk for a kept one is an illegal transition.
    assert rejected[log[-8][0]["event_id"]] == "late"
    assert rejected[log[-7][0]["event_id"]] == "unknown_workout"
    assert rejected[log[-6][0]["event_id"]] == "illegal_transition"
    # Both reuses are new workouts: counted again in the all-time totals (a completion
    # sent twice has one event id).
    for user in USERS:
        completions = {e["event_id"] for e, _ in log
                       if e["type"] == "WorkoutCompleted" and e["user_id"] == user}
        all_time = expected["leaderboard_entries"][("all", "all", "all", user)]
        assert all_time["workouts"] == len(completions)
    # Bounded: the sessions of the first 20 days are gone (but for the three ids that
    # were used again), and the ids they counted.
    sessions = {k for (store, k), v in state.stored.items()
                if store == pipeline.SESSIONS and v is not None and not k.endswith("/")}
    reused = {wid("u-a", 3), wid("u-b", 10), wid("u-c", 20)}
    early = {f"{user}/{wid(user, day)}" for user in USERS for day in range(20)
             if wid(user, day) not in reused}
    assert not sessions & early
    for user in USERS:
        index = state.stored.get((pipeline.SESSIONS, retirement_key(user)))
        assert index is not None
        held = {k.split("/")[1] for k in sessions if k.startswith(f"{user}/")}
        assert set(index["workouts"]) <= held
        totals = state.stored[(pipeline.TOTALS, user)]
        achievements = state.stored[(pipeline.ACHIEVEMENTS, user)]
        assert not {wid(user, day) for day in range(20)} - reused & set(totals["counted"])
        assert set(totals["counted"]) == set(achievements["counted"])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), batch=st.sampled_from([5, 40]),
       order=st.integers(0, 2**32), replays=st.integers(1, 4))
def test_a_replay_after_a_crash_changes_no_view(seed, batch, order, replays):
    log = long_log(seed)
    outputs, _ = run_layout(log, 3, batch, random.Random(order), replays)
    assert views(outputs) == views(per_user(log))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 100_000), streaky=st.floats(0.3, 1.0))
def test_achievements_keep_a_bounded_past_and_the_same_progress(seed, streaky):
    """Days and weeks behind the horizon go (with the best streak and week kept):
    progress and unlocks are those of the whole history."""
    from fitstream.domain.achievements import UserAchievements

    rng = random.Random(seed)
    whole, pruned = UserAchievements("u"), UserAchievements("u")
    sent_whole, sent_pruned = [], []
    clock = START
    for n in range(400):
        clock += rng.choice([DAY, DAY, DAY // 3, 2 * DAY]) if rng.random() < streaky \
            else rng.randint(3, 40) * DAY
        # Completed up to the lateness plus the bounds' reach behind the clock.
        start = clock - rng.choice([0, 0, 0, rng.randint(0, 10 * DAY)])
        summary = {"workout_id": f"w{n}", "user_id": "u", "status": "completed",
                   "sport_type": "running", "start_time": start, "end_time": start + HOUR,
                   "last_event_at": start + HOUR, "distance_meters": 5000.0,
                   "best_1k_ms": None, "best_5k_ms": None, "best_10k_ms": None}
        for achievements, sent in ((whole, sent_whole), (pruned, sent_pruned)):
            changes = achievements.add_workout(dict(summary))
            sent.append((changes.unlocked, changes.progress))
        pruned.prune(clock - 30 * DAY, POLICY.allowed_lateness_ms)  # a settled clock behind
    assert sent_pruned == sent_whole
    assert len(pruned.days) <= 30 + 45 and len(pruned.weeks) <= 8
