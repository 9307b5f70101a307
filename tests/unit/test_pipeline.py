"""The pipeline core's promise (issue 10): every view depends only on each user's own
events in log order, not on how users share partitions, how records fall into batches,
or how partitions interleave. A simulated fleet with duplicates, reordering, late
devices and poison, plus a device dated 2100 and a user who syncs two days at once,
run through :func:`fitstream.domain.pipeline.run_batch` under many layouts, gives the
same outputs (tests/engines/canonical.py) as one batch per user, which is how the Spark
backfill runs it."""

from __future__ import annotations

import random
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain import pipeline
from fitstream.domain.event_time import EventTimePolicy
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from jobs.backfill import DictState
from tests.engines.canonical import canonical
from tests.unit.test_workout_session import WorkoutScript

START = 1_793_577_600_000  # 2026-11-02 00:00 UTC
HOUR = 3_600_000
YEAR_2100 = 4_102_444_800_000
POLICY = EventTimePolicy()


def crafted_log(seed: int) -> list[tuple[dict, int]]:
    """(event, record timestamp) in log order."""
    spec = FleetSpec(users=6, days=4, seed=seed, start_ms=START,
                     chaos=ChaosKnobs(duplicate=0.03, out_of_order=0.05, late=0.05,
                                      malformed=0))
    log = [(r.event, r.delivered_at) for r in simulate_fleet(spec) if r.event is not None]
    end = max(at for _, at in log)
    # Two days of one user's workouts synced at once, at the end of the log: against a
    # partition's clock (everyone else's events) all of them were late.
    syncer = []
    for day in range(2):
        at = end - (50 - 24 * day) * HOUR
        syncer += (WorkoutScript(f"w-sync-{day}", "u-syncer").started(at)
                   .updated(at + 600_000, 2000.0, [140, 150])
                   .completed(at + 1_200_000, 4000.0)).events
    log += [(e, end) for e in syncer]
    # A device clock far in the future; a workout whose start never arrives, followed
    # by more of the same user's events so their clock passes the timeout.
    log.insert(len(log) // 3, (WorkoutScript("w-2100", "u-future").started(YEAR_2100)
                               .events[0], log[len(log) // 3][1]))
    ghost = WorkoutScript("w-ghost", "u-ghost").started(end - 3 * HOUR).updated(
        end - 3 * HOUR + 60_000, 100.0, [120]).events[1:]
    after = WorkoutScript("w-after", "u-ghost").started(end - 2 * HOUR).completed(
        end - HOUR, 3000.0).events
    log += [(e, end) for e in ghost + after]
    return log


def outputs_of(results: list[pipeline.PipelineResult]) -> dict[str, list[dict]]:
    outputs: dict[str, list[dict]] = {}
    for result in results:
        for name in ("summaries", "claims", "leaderboard_entries", "progress", "unlocks",
                     "records", "features", "notifications", "board_completions"):
            outputs.setdefault(name, []).extend(getattr(result, name))
        outputs.setdefault("rejections", []).extend(
            {"reason": r.reason.value, "event_id": r.event["event_id"]}
            for r in result.rejections)
    return outputs


def run_layout(log: list[tuple[dict, int]], partitions: int, batch: int,
               interleave: random.Random) -> dict[str, list[dict]]:
    """The log keyed by user into ``partitions``, each read in batches of ``batch``,
    partitions taking turns in ``interleave``'s order, state kept between batches."""
    by_partition: dict[int, list] = {}
    for event, at in log:
        p = zlib.crc32(event["user_id"].encode()) % partitions
        queue = by_partition.setdefault(p, [])
        queue.append((event, [p, len(queue), at]))
    state = DictState()
    results = []
    cursors = dict.fromkeys(by_partition, 0)
    while cursors:
        p = interleave.choice(sorted(cursors))
        chunk = by_partition[p][cursors[p]:cursors[p] + batch]
        cursors[p] += batch
        if cursors[p] >= len(by_partition[p]):
            del cursors[p]
        result = pipeline.run_batch(chunk, state, POLICY)
        state.stored.update(result.snapshot)
        results.append(result)
    return outputs_of(results)


def per_user(log: list[tuple[dict, int]]) -> dict[str, list[dict]]:
    """One batch per user, as the Spark backfill runs the core."""
    users: dict[str, list] = {}
    for offset, (event, at) in enumerate(log):
        users.setdefault(event["user_id"], []).append((event, [0, offset, at]))
    return outputs_of([pipeline.run_batch(events, DictState(), POLICY)
                       for events in users.values()])


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 1000), partitions=st.sampled_from([1, 3, 8, 24]),
       batch=st.sampled_from([1, 7, 50, 100_000]), order=st.integers(0, 2**32))
def test_any_partitioning_batching_and_interleaving_gives_the_same_views(
        seed, partitions, batch, order):
    log = crafted_log(seed)
    expected = canonical(per_user(log))
    assert canonical(run_layout(log, partitions, batch, random.Random(order))) == expected
    rejected = dict((event_id, reason) for reason, event_id in expected["rejections"])
    syncer_ids = {e["event_id"] for e, _ in log if e["user_id"] == "u-syncer"}
    assert not syncer_ids & set(rejected)  # two days synced at once: none of it is late
    assert {s[1] for s in expected["summaries"]
            if s[0] == "u-syncer"} == {"w-sync-0", "w-sync-1"}
    assert rejected[next(e["event_id"] for e, _ in log
                         if e["workout_id"] == "w-2100")] == "from_future"
    assert {rejected.get(e["event_id"]) for e, _ in log
            if e["workout_id"] == "w-ghost"} == {"unknown_workout"}
