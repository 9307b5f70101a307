"""``bench.run --only soak``: does the processor's state stay flat over a year of activity?

A fleet of simulated users (fitstream/simulator: each athlete's plan, sports, breaks,
cancellations, and the fleet's device chaos: duplicates, reordering, late syncs) over
``months`` months, run through the pipeline core itself, with no broker:
:func:`fitstream.domain.pipeline.run_batch` and :func:`~fitstream.domain.pipeline.
run_board_batch` over an in-memory :class:`DictState` that holds each key's state
orjson-encoded, as the Faust tables do (streams/faust/table_state.py). Records are
split by partition (8, by user; boards by board key) and taken in batches of
``batch`` records in delivery order, as a worker would.

The notifications both stages send also go through the delivery worker's ledger
(delivery/ledger.py), as if each had one push delivery, its offsets committed after
every batch and the simulated time as the wall clock (a plain set of ids where the
ledger does not exist yet: the code before issue 13's retention).

At the end of every simulated month it records, per store, the keys and the encoded
bytes held, the ledger's entries, and the process RSS (after a GC). The state is exactly what a worker's
tables would hold; the RSS is this process's (the simulator's memory is constant).

To keep a year of 1,000 users affordable the devices record a point every
:data:`SAMPLE_INTERVAL_S` seconds instead of every 1 to 2 (the simulator's own rate):
the events, workouts and their times are the simulator's; only the samples inside an
update are fewer, so a session's best-effort points are fewer than a real one's.
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import inspect
import json
import subprocess
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from fitstream.domain import pipeline
from fitstream.domain.event_time import EventTimePolicy
from fitstream.simulator import fleet
from fitstream.simulator.athlete import Athlete
from fitstream.simulator.fleet import ChaosKnobs, DeviceRecord, FleetSpec, FleetTally

RESULTS = Path(__file__).parent / "results"
USERS = 1000
MONTHS = 12
SAMPLE_INTERVAL_S = 30
PARTITIONS = 8
BATCH = 2000
START = datetime(2026, 1, 1, tzinfo=UTC)


class DictState:
    """The pipeline's KeyedState over dicts of orjson bytes (what a Faust table holds)."""

    def __init__(self) -> None:
        self.stores: dict[str, dict[str, bytes]] = {}

    def get(self, store: str, key: str) -> dict[str, Any] | None:
        stored = self.stores.get(store, {}).get(key)
        return orjson.loads(stored) if stored is not None else None

    def write(self, snapshot: dict[tuple[str, str], dict[str, Any] | None]) -> None:
        for (store, key), state in snapshot.items():
            table = self.stores.setdefault(store, {})
            if state is None:
                table.pop(key, None)
            else:
                table[key] = orjson.dumps(state)

    def sizes(self) -> dict[str, dict[str, int]]:
        return {store: {"keys": len(table), "bytes": sum(map(len, table.values()))
                        + sum(map(len, table))}
                for store, table in sorted(self.stores.items())}


class CoarseWorkout(fleet.Workout):
    """The simulator's workout, its device recording a point every SAMPLE_INTERVAL_S."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.profile = dataclasses.replace(self.profile, sample_interval_s=SAMPLE_INTERVAL_S)


def fleet_records(spec: FleetSpec, tally: FleetTally) -> Iterator[DeviceRecord]:
    """The fleet's records in delivery order, like ``simulate_fleet``, but building
    workouts lazily per user (the fleet's sorts every workout of the year up front)."""
    def user_workouts(index: int) -> Iterator[fleet.Workout]:
        athlete = Athlete(spec.seed, index, spec.start_ms)
        traits = athlete.traits
        for day in athlete.days(spec.days):
            if day.day >= 0:
                for session in sorted(day.sessions, key=lambda s: s.start_ms):
                    yield CoarseWorkout(session, traits.user_id, traits.device_id,
                                        traits.weight_kg)

    workouts = heapq.merge(*(user_workouts(i) for i in range(spec.users)),
                           key=lambda w: w.start_ms)
    pending: list[tuple[int, int, list[DeviceRecord]]] = []
    order = 0
    upcoming = next(workouts, None)
    while upcoming is not None or pending:
        if upcoming is not None and (not pending or upcoming.start_ms <= pending[0][0]):
            records = fleet._deliveries(upcoming, spec.chaos, tally)
            records.sort(key=lambda r: r.delivered_at)
            heapq.heappush(pending, (records[0].delivered_at, order, records))
            order += 1
            upcoming = next(workouts, None)
            continue
        _, at, records = heapq.heappop(pending)
        record = records.pop(0)
        tally.records += 1
        yield record
        if records:
            heapq.heappush(pending, (records[0].delivered_at, at, records))


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def month_start(month: int) -> int:
    year, index = divmod(START.month - 1 + month, 12)
    return int(datetime(START.year + year, index + 1, 1, tzinfo=UTC).timestamp() * 1000)


def soak(users: int = USERS, months: int = MONTHS, seed: int = 7,
         console: Console | None = None) -> dict[str, Any]:
    days = (month_start(months) - month_start(0)) // 86_400_000
    spec = FleetSpec(users=users, days=days, seed=seed, start_ms=month_start(0),
                     chaos=ChaosKnobs(malformed=0.0))
    policy = EventTimePolicy()
    state, boards = DictState(), DictState()
    offsets = [0] * PARTITIONS
    tally = FleetTally()
    batch: list[tuple[dict[str, Any], list[Any]]] = []
    curve: list[dict[str, Any]] = []
    started = time.monotonic()
    cpu_started = time.process_time()
    ledger: Any = set()
    try:
        from delivery.ledger import DeliveryLedger
        from fitstream.domain.session_batch import retirement_horizon_ms
        from fitstream.kafka.topics import OPERATIONAL_RETENTION_MS
        ledger = DeliveryLedger(retirement_horizon_ms(policy), OPERATIONAL_RETENTION_MS)
    except ImportError:  # before the ledger had a retention
        pass
    notified = [0] * PARTITIONS  # the next offset per notifications partition
    # Board retention keeps an index per partition ("scope"); the code before it had none.
    scoped = "scope" in inspect.signature(pipeline.run_board_batch).parameters
    totals = {"events": 0, "rejections": 0, "duplicates": 0, "board_completions": 0}

    def run(events: list[tuple[dict[str, Any], list[Any]]]) -> None:
        by_partition: dict[int, list[tuple[dict[str, Any], list[Any]]]] = {}
        for item in events:
            by_partition.setdefault(item[1][0], []).append(item)
        completions, sent = [], []
        for partition in sorted(by_partition):
            result = pipeline.run_batch(by_partition[partition], state, policy)
            state.write(result.snapshot)
            sent += result.notifications
            totals["rejections"] += len(result.rejections)
            totals["duplicates"] += result.duplicates
            completions += result.board_completions
        totals["board_completions"] += len(completions)
        by_board: dict[int, list[Any]] = {}
        for completion in completions:
            by_board.setdefault(zlib.crc32(completion["board"].encode()) % PARTITIONS,
                                []).append(completion)
        notifications = []
        for partition in sorted(by_board):
            result = board_batch(by_board[partition], partition)
            boards.write(result.snapshot)
            notifications += result.notifications
        deliver(notifications + sent)

    def deliver(notifications: list[Any]) -> None:
        """Every notification's push delivery, into the ledger; then a commit."""
        if not notifications:
            return
        for n in notifications:
            partition = zlib.crc32(n["user_id"].encode()) % PARTITIONS
            delivery_id = f"{n['notification_id']}|push"
            if isinstance(ledger, set):
                ledger.add(delivery_id)
            elif delivery_id not in ledger:
                ledger.add(delivery_id, n["user_id"], now[0], n["created_at"], "n",
                           partition, notified[partition])
            else:
                ledger.seen(n["user_id"], n["created_at"])
            notified[partition] += 1
        if not isinstance(ledger, set):
            ledger.prune({("n", p): o for p, o in enumerate(notified)}, now[0])

    def board_batch(completions: list[Any], partition: int) -> Any:
        if scoped:
            return pipeline.run_board_batch(completions, boards, scope=str(partition))
        return pipeline.run_board_batch(completions, boards)  # before retention

    def measure(month: int) -> None:
        tally.completed_ids.clear()  # the simulator's bookkeeping, not the processor's
        gc.collect()
        sizes = {**state.sizes(), **boards.sizes()}
        row = {"month": month, "rss_mib": round(rss_kib() / 1024, 1),
               "state_bytes": sum(s["bytes"] for s in sizes.values()),
               "state_keys": sum(s["keys"] for s in sizes.values()), "stores": sizes,
               "ledger_entries": len(ledger),
               "events": totals["events"], "elapsed_s": round(time.monotonic() - started, 1)}
        curve.append(row)
        if console:
            console.print(f"month {month:2}: {row['state_keys']:>8,} keys "
                          f"{row['state_bytes'] / 2**20:8.1f} MiB state, RSS "
                          f"{row['rss_mib']} MiB ({row['elapsed_s']} s), ledger "
                          f"{len(ledger):,} "
                          + " ".join(f"{k}={v['keys']}/{v['bytes'] // 1024}K"
                                     for k, v in sizes.items()))

    now = [month_start(0)]  # the simulated wall clock: the latest delivery time
    month = 0
    boundary = month_start(1)
    for record in fleet_records(spec, tally):
        if record.event is None:
            continue
        while record.delivered_at >= boundary:
            run(batch)
            batch = []
            month += 1
            measure(month)
            boundary = month_start(month + 1)
        now[0] = max(now[0], record.delivered_at)
        partition = zlib.crc32(record.key.encode()) % PARTITIONS
        # The record's timestamp is the broker's clock at the sync: never before the
        # event (the fleet's reordering hands a swapped event its neighbour's time).
        written_at = max(record.delivered_at, record.event["occurred_at"])
        batch.append((record.event, [partition, offsets[partition], written_at]))
        offsets[partition] += 1
        totals["events"] += 1
        if len(batch) >= BATCH:
            run(batch)
            batch = []
    run(batch)
    while month < months:
        month += 1
        measure(month)
    return {
        "benchmark": "soak", "users": users, "months": months, "seed": seed,
        "sample_interval_s": SAMPLE_INTERVAL_S, "partitions": PARTITIONS, "batch": BATCH,
        "workouts": tally.workouts, "samples": tally.samples, **totals,
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, check=False).stdout.strip(),
        "curve": curve,
    }


def run(console: Console, users: int = USERS, months: int = MONTHS,
        label: str = "") -> dict[str, Any]:
    result = soak(users, months, console=console)
    stamp = datetime.now(UTC)
    result["date"] = stamp.isoformat(timespec="seconds")
    result["label"] = label
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stamp:%Y%m%dT%H%M%S}-soak.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"written to {path}")
    return result


def table(result: dict[str, Any]) -> str:
    """The curve as Markdown rows: month, keys per store, state MiB, RSS MiB."""
    stores = sorted({s for row in result["curve"] for s in row["stores"]})
    lines = ["| month | " + " | ".join(f"{s} keys" for s in stores)
             + " | state MiB | ledger entries | RSS MiB |", "|---" * (len(stores) + 4) + "|"]
    for row in result["curve"]:
        lines.append(f"| {row['month']} | " + " | ".join(
            f"{row['stores'].get(s, {}).get('keys', 0):,}" for s in stores)
            + f" | {row['state_bytes'] / 2**20:.1f} | {row['ledger_entries']:,} | "
            f"{row['rss_mib']} |")
    return "\n".join(lines)
