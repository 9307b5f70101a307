"""The Flink events stage without Flink (streams/flink/stages.py, engine-free): erasures.

- :class:`ErasureWatch` re-reads the erasure topic before any record logged after its
  last read began, and at least every refresh interval (hypothesis, an injected clock);
- :meth:`UserStage.erase` drops the current user's state once per erasure, so a user
  who came back after it keeps their new state when the same erasure arrives again;
- an erased user's records logged at or before the erasure are dead-lettered
  ``user_erased`` with no key and no value, and a record logged after it counts from zero.

Flink's keyed ``MapState`` is stood in for by dicts per key (what the engine gives the
function: the current key's maps); the stage, contracts, cipher and core are the real ones.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain import pipeline
from fitstream.domain.events import event_subject
from fitstream.kafka.dead_letter import read_headers
from fitstream.privacy.coordinates import seal_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from streams.flink.stages import APPLIED_ERASURE, ErasureWatch, MapStoreState, UserStage
from tests.unit.test_workout_session import WorkoutScript

HOUR = 3_600_000
T0 = 1_790_000_000_000


class KeyedMaps:
    """Each key's maps, as Flink's keyed MapState scopes them to the current key."""

    def __init__(self) -> None:
        self.by_key: dict[str, dict[str, dict[str, str]]] = defaultdict(
            lambda: defaultdict(dict))
        self.current = ""

    def state(self) -> MapStoreState:
        maps = self

        class CurrentKeyMap:
            def __init__(self, store: str) -> None:
                self.store = store

            def _map(self) -> dict[str, str]:
                return maps.by_key[maps.current][self.store]

            def get(self, key: str) -> str | None:
                return self._map().get(key)

            def put(self, key: str, value: str) -> None:
                self._map()[key] = value

            def remove(self, key: str) -> None:
                self._map().pop(key, None)

            def clear(self) -> None:
                self._map().clear()

        return MapStoreState({s: CurrentKeyMap(s)
                              for s in (*pipeline.STATE_STORES, APPLIED_ERASURE)})


@given(st.lists(st.tuples(st.floats(0, 5), st.integers(-10_000, 10_000)), max_size=40),
       st.floats(0.1, 3))
def test_the_erasure_topic_is_read_after_every_record_it_could_concern(steps, refresh_s):
    now, reads = [1_000.0], []
    watch = ErasureWatch(lambda: reads.append(now[0]), refresh_s, clock=lambda: now[0])
    for advance_s, logged_ago_ms in steps:
        now[0] += advance_s
        written_at = round(now[0] * 1000) - logged_ago_ms
        before = len(reads)
        watch.before(written_at)
        last = reads[-1]
        # Every erasure produced before the record was logged has been read ...
        assert last * 1000 > written_at or last == now[0]
        # ... and the topic was read within the refresh interval.
        assert now[0] - last < refresh_s or last == now[0]
        # A read is skipped only when neither holds without it.
        if len(reads) == before:
            assert last * 1000 > written_at and now[0] - last < refresh_s


@pytest.fixture
def stage(tmp_path):
    settings = FitStreamSettings(state_dir=tmp_path)
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    erasures: dict[str, int] = {}
    return (UserStage(settings, serde, FieldCipher(key_store(settings)), erasures.get),
            serde, FieldCipher(key_store(settings)), erasures)


def run(stage: UserStage, serde: AvroSerde, cipher: FieldCipher, maps: KeyedMaps,
        events: list[dict[str, Any]], written_at: int, offset: int) -> list[Any]:
    out = []
    for i, event in enumerate(events):
        maps.current = event["user_id"]
        subject = event_subject(event)
        value = serde.encode(subject, seal_coordinates(cipher, subject, event))
        out += stage.process(event["user_id"].encode(), value, 0, offset + i, written_at + i,
                             maps.state())
    return out


def all_time_distance(serde: AvroSerde, out: list[Any], user: str) -> float:
    entries = [serde.decode(o.value)[1] for o in out if o.topic == "leaderboards.entries.v1"]
    [latest] = [e for e in entries if e["user_id"] == user and e["window"] == "all"
                and e["sport"] == "all"][-1:]
    return latest["distance_meters"]


def test_an_erased_user_is_dead_lettered_then_counts_from_zero(stage):
    user_stage, serde, cipher, erasures = stage
    maps = KeyedMaps()
    first = WorkoutScript("w-1", "u-erased").started(T0).completed(T0 + HOUR, 5500.0).events
    out = run(user_stage, serde, cipher, maps, first, T0 + HOUR, 0)
    assert all_time_distance(serde, out, "u-erased") == 5500.0
    assert maps.by_key["u-erased"][pipeline.TOTALS]

    erasures["u-erased"] = T0 + 2 * HOUR
    # A copy of the first run logged before the erasure, read again (a replay): refused.
    out = run(user_stage, serde, cipher, maps, first, T0 + HOUR, 10)
    assert [(o.key, o.value, read_headers(list(o.headers.items()))["dlq.reason"])
            for o in out] == [(None, b"", "user_erased")] * 2
    assert not any(maps.by_key["u-erased"][s] for s in pipeline.STATE_STORES)

    second = WorkoutScript("w-2", "u-erased").started(T0 + 3 * HOUR).completed(
        T0 + 4 * HOUR, 1000.0).events
    out = run(user_stage, serde, cipher, maps, second, T0 + 4 * HOUR, 20)
    assert all_time_distance(serde, out, "u-erased") == 1000.0
    # The same erasure met again (through the erasure topic) keeps the new state.
    maps.current = "u-erased"
    assert UserStage.erase(T0 + 2 * HOUR, maps.state()) is False
    assert maps.by_key["u-erased"][pipeline.TOTALS]
    # A later erasure drops it again.
    assert UserStage.erase(T0 + 5 * HOUR, maps.state()) is True
    assert not any(maps.by_key["u-erased"][s] for s in pipeline.STATE_STORES)
