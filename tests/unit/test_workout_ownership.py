"""Workout ownership in the processor (issue 9 finding 1, issue 10): sessions are keyed by
user and workout id, so another user's events for a workout id someone started make
that user's own session and touch nothing of the first user's, whatever partitions or
batches they share; every accepted WorkoutStarted yields a claim, and the owner is the
claim with the least ``(claimed_at, user_id)`` (readers decide by it; ingest refuses a
claimed id with a 409)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain.event_time import EventTimePolicy
from fitstream.domain.session_batch import UserClocks, apply_batch, session_key
from fitstream.domain.workout_session import WorkoutSession
from tests.unit.test_workout_session import T0, WorkoutScript, feed

NEVER = EventTimePolicy(allowed_lateness_ms=10**12, unknown_workout_timeout_ms=10**12)
WORKOUT = "w-shared"


def victim_workout() -> list[dict]:
    return (WorkoutScript(WORKOUT, "victim").started()
            .updated(T0 + 60_000, 200.0, [120, 125])
            .paused(T0 + 90_000).resumed(T0 + 100_000)
            .updated(T0 + 400_000, 1500.0, [140])
            .completed(T0 + 500_000, 1600.0, 90.0)).events


def attacker_workout() -> list[dict]:
    events = (WorkoutScript(WORKOUT, "attacker").started(T0 + 5_000, sport="cycling")
              .updated(T0 + 70_000, 900.0, [180])
              .completed(T0 + 80_000, 50_000.0, 3000.0)).events
    # Its own event ids: a hostile producer is free to choose any.
    return [{**e, "event_id": e["event_id"][:-4] + "beef"} for e in events]


def run(delivered: list[dict], batch_size: int, store: dict[str, bytes] | None = None):
    """``delivered`` through apply_batch in batches, state stored between batches as the
    processor does; refs are log positions, record times 1000 + position."""
    store = {} if store is None else store
    clocks = UserClocks()
    rejections, claims, summaries = [], [], []
    for start in range(0, len(delivered), batch_size):
        chunk = list(enumerate(delivered))[start:start + batch_size]
        result = apply_batch(
            ((event, position) for position, event in chunk),
            lambda k: WorkoutSession.from_state(orjson.loads(store[k])) if k in store else None,
            clocks, NEVER, position=lambda ref: ref, record_time=lambda ref: 1000 + ref)
        for key, session in result.sessions.items():
            store[key] = orjson.dumps(session.to_state())
        rejections += result.rejections
        claims += result.claims
        summaries += result.summaries
    return store, rejections, claims, summaries


def owner(claims: list[dict]) -> str:
    """As every reader decides: the claim with the least (claimed_at, user_id)."""
    return min((c["claimed_at"], c["user_id"]) for c in claims)[1]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), batch_size=st.integers(1, 12))
def test_another_users_events_for_a_started_workout_touch_nothing_of_the_owners(
        data, batch_size):
    victim, attacker = victim_workout(), attacker_workout()
    chosen = data.draw(st.lists(st.sampled_from(attacker), min_size=1, max_size=8))
    rest = data.draw(st.permutations(victim[1:] + chosen))
    delivered = [victim[0], *rest]
    store, rejections, claims, summaries = run(delivered, batch_size)

    alone, _ = feed(victim)
    stored = WorkoutSession.from_state(orjson.loads(store[session_key("victim", WORKOUT)]))
    assert stored.summary() == alone.summary()
    assert [s for s in summaries if s["user_id"] == "victim"][-1] == alone.summary()
    assert all(r.event["user_id"] == "attacker" for r in rejections)
    assert {c["user_id"] for c in claims} <= {"victim", "attacker"}
    assert {"workout_id": WORKOUT, "user_id": "victim", "claimed_at": 1000} in claims
    assert owner(claims) == "victim"


def test_a_re_read_started_record_re_sends_the_same_claim():
    victim = victim_workout()
    store, _, first, _ = run(victim[:2], 2)
    _, rejections, again, _ = run(victim[:2], 2, store)
    assert rejections == []
    assert first == again == [{"workout_id": WORKOUT, "user_id": "victim", "claimed_at": 1000}]


def test_a_squatters_waiting_events_block_nothing_and_the_first_start_owns_the_id():
    """A squatter's events waiting for a Started do not block the workout: the first
    user to start it owns it (the least claim), whatever the squatter sends later."""
    victim, attacker = victim_workout(), attacker_workout()
    delivered = [attacker[1], attacker[2], *victim, attacker[0]]
    store, rejections, claims, _ = run(delivered, 3)
    alone, _ = feed(victim)
    assert WorkoutSession.from_state(orjson.loads(
        store[session_key("victim", WORKOUT)])).summary() == alone.summary()
    # The attacker's 50 km in 75 s is refused on its own merits, and touches no one else.
    assert [(r.event["user_id"], r.reason.value) for r in rejections] == [
        ("attacker", "out_of_bounds")]
    assert claims == [{"workout_id": WORKOUT, "user_id": "victim", "claimed_at": 1002},
                      {"workout_id": WORKOUT, "user_id": "attacker",
                       "claimed_at": 1000 + len(delivered) - 1}]
    assert owner(claims) == "victim"


def test_another_users_summary_for_the_same_workout_id_never_overwrites_silver(tmp_path):
    """Silver is MERGEd on (user, workout): a summary for a reused workout id (another
    user on another partition, whose processor could not refuse it) is its own row."""
    from confluent_kafka import Message
    from deltalake import DeltaTable, Transaction

    from fitstream.contracts import AvroSerde
    from fitstream.contracts.registry import RepoSchemaRegistry
    from fitstream.settings import FitStreamSettings
    from sinks.delta.writers import SilverGoldWriter
    from stores.delta.lakehouse import DeltaTables
    from stores.delta.tables import GOLD_USER_DAILY, SILVER_WORKOUTS
    from tests.unit.test_lakehouse_tables import SUMMARY, summary

    settings = FitStreamSettings(state_dir=tmp_path)
    tables = DeltaTables(settings)
    serde = AvroSerde(RepoSchemaRegistry(settings.schema_registry.repo_registry_path))
    writer = SilverGoldWriter(tables, serde)
    writer.prepare()
    victim = summary(WORKOUT, "victim", 7, "completed", T0, 5000.0)
    attacker = summary(WORKOUT, "attacker", 9, "completed", T0 + 60_000, 42_195.0, hr=190.0)
    for offset, row in enumerate((victim, attacker)):
        writer.write([Message(topic="summaries", partition=0, offset=offset,
                              value=serde.encode(SUMMARY, row))],
                     [Transaction("sg:0", offset + 1)])
    silver = {r["user_id"]: r for r in DeltaTable(
        tables.uri(SILVER_WORKOUTS)).to_pyarrow_table().to_pylist()}
    assert {u: (r["workout_id"], r["last_seq"], r["distance_meters"], r["avg_heart_rate"])
            for u, r in silver.items()} == {
        "victim": (WORKOUT, 7, 5000.0, 140.0), "attacker": (WORKOUT, 9, 42_195.0, 190.0)}
    gold = {r["user_id"]: r["distance_meters"] for r in DeltaTable(
        tables.uri(GOLD_USER_DAILY)).to_pyarrow_table().to_pylist()}
    assert gold == {"victim": 5000.0, "attacker": 42_195.0}
