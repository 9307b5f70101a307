"""The ingest owner check (review of issue 9): a batch's unknown workout ids are read in
one query, with the processor's rule (least claimed_at, ties to the smaller user id), and
a store that fails skips the check instead of failing every batch with 500."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.workout_owners import WorkoutOwners, refuse_taken_workouts
from fitstream.settings import FitStreamSettings
from stores.clickhouse.chdb import ChdbStore
from stores.clickhouse.queries import OWNER_QUERY
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl


class CountingStore:
    """The real store, counting the statements it is asked to read."""

    def __init__(self, store: Any) -> None:
        self.store, self.database, self.queries = store, store.database, 0

    def query(self, sql: str, params: Any = None) -> list[dict]:
        self.queries += 1
        return self.store.query(sql, params)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = open_store(FitStreamSettings(state_dir=tmp_path_factory.mktemp("owners")))
    apply_ddl(store)
    yield store
    store.close()


claims = st.lists(st.tuples(st.sampled_from(["w1", "w2", "w3"]),
                            st.sampled_from(["ann", "bob", "cy"]), st.integers(0, 3)),
                  max_size=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(claimed=claims)
def test_one_query_gives_each_ids_owner_by_the_processors_rule(store, claimed):
    store.execute(f"TRUNCATE TABLE {store.database}.workout_claims")
    if claimed:
        store.insert("workout_claims", {"workout_id": [c[0] for c in claimed],
                                        "user_id": [c[1] for c in claimed],
                                        "claimed_at": [c[2] for c in claimed]})
    counting = CountingStore(store)
    owners = WorkoutOwners(counting, ttl_s=60).owners_of(["w1", "w2", "w3", "w4", "w1"])
    assert counting.queries == 1
    expected = {}
    for workout_id in ("w1", "w2", "w3", "w4"):
        rows = store.query(OWNER_QUERY.format(db=store.database), {"workout_id": workout_id})
        expected[workout_id] = rows[0]["user_id"] if rows else None
    assert owners == expected


def test_a_failing_store_skips_the_check_instead_of_failing_the_batch(store):
    # A real store on a database with no claims table (never created): every read fails.
    broken = ChdbStore(store.path, "fitstream_without_tables")
    owners = WorkoutOwners(broken, ttl_s=60)
    with pytest.raises(Exception, match="workout_claims"):
        owners.owners_of(["w1"])
    events = [{"workout_id": "w1"}, {"workout_id": "w2"}]
    assert asyncio.run(refuse_taken_workouts(owners, events, "ann")) is None
