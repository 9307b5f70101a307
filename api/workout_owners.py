"""Who owns a workout id: the processor's decision, read from its claims.

The processor emits a claim for every WorkoutStarted it accepts; the owner of a workout
id is its earliest claim by Kafka record time, ties to the smaller user id
(``stores.clickhouse.queries.workout_owner``). Every owner check in the API reads this,
never a summary, route or sample row, which any producer could have caused for an id it
does not own.

Known owners are kept for ``ttl_s`` (the view cache's TTL): an owner changes only while
a lagging partition's earlier claim is still on its way. "No owner yet" is never kept:
it is the answer for every new workout until its claim lands, and a kept one would let
a second user's WorkoutStarted through ingest right after the first user's. Ingest's
refusal is a courtesy to honest clients that reuse an id; the guard is that the
processor keys sessions by user and every reader decides the owner by the claims, so a
reused id only ever makes the other user's own rows: ingest looks a batch's unknown ids
up in one query, and a store that fails skips the check (logged) instead of failing
every batch with 500.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import structlog
from anyio.to_thread import run_sync

from api.errors import ApiError
from fitstream.observability import metrics
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore

log = structlog.get_logger("api.workout_owners")


class WorkoutOwners:
    def __init__(self, store: ClickHouseStore, ttl_s: float, max_entries: int = 100_000,
                 ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._known: dict[str, tuple[float, str]] = {}  # workout id -> (read at, owner)

    def _cached(self, workout_id: str) -> str | None:
        entry = self._known.get(workout_id)
        if entry is not None and time.monotonic() - entry[0] < self._ttl_s:
            return entry[1]
        return None

    def _keep(self, workout_id: str, owner: str) -> None:
        if len(self._known) >= self._max_entries:
            self._known.clear()
        self._known[workout_id] = (time.monotonic(), owner)

    def _lookup(self, workout_id: str) -> str | None:
        owner = queries.workout_owner(self._store, workout_id)
        if owner is not None:
            self._keep(workout_id, owner)
        return owner

    def owners_of(self, workout_ids: Iterable[str]) -> dict[str, str | None]:
        """:meth:`owner_of` of each id; the ids not kept are read in one query."""
        owners: dict[str, str | None] = {w: self._cached(w) for w in set(workout_ids)}
        unknown = tuple(sorted(w for w, owner in owners.items() if owner is None))
        if unknown:
            for workout_id, owner in queries.workout_owners(self._store, unknown).items():
                owners[workout_id] = owner
                self._keep(workout_id, owner)
        return owners

    def owner_of(self, workout_id: str) -> str | None:
        """The owner of ``workout_id``, or None while no WorkoutStarted for it is accepted."""
        return self._cached(workout_id) or self._lookup(workout_id)



async def refuse_taken_workouts(owners: WorkoutOwners | None, events: Iterable[Any],
                                user_id: str) -> None:
    """409 ``workout_id_taken``, naming each event whose workout id another user owns.

    ``events`` are the batch's events, already checked against their contracts and the
    caller's identity. Without ``owners`` (an ingest-only process with no store) nothing
    is checked here and the processor alone refuses them.
    """
    if owners is None:
        return
    events = list(events)
    try:
        owner = await run_sync(owners.owners_of, [e["workout_id"] for e in events])
    except Exception:  # the store's own error, whichever backend: the processor guards
        log.exception("workout_owner_check_skipped", events=len(events))
        return
    taken = [{"index": index, "workout_id": event["workout_id"]}
             for index, event in enumerate(events)
             if owner[event["workout_id"]] not in (None, user_id)]
    if taken:
        metrics.INGEST_REJECTED.labels(status="409").inc()
        raise ApiError(409, "workout_id_taken",
                       f"{len(taken)} events are for workout ids another user started",
                       taken)
