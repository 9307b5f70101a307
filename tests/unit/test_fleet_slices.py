"""A slice of the fleet's users gives each of them the records the whole fleet gives,
in the same order: what lets jobs/fleet_lakehouse.py build a large fleet a slice at a
time with bounded memory."""

from __future__ import annotations

from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, FleetTally, simulate_fleet

SPEC = FleetSpec(users=7, days=6, seed=5, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0.1, out_of_order=0.1, late=0.2, malformed=0.02))


def by_user(records) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for record in records:
        grouped.setdefault(record.key, []).append(
            (record.delivered_at, record.event, record.raw, record.duplicate))
    return grouped


def test_each_slice_holds_its_users_records_as_the_whole_fleet_does():
    whole_tally = FleetTally()
    whole = by_user(simulate_fleet(SPEC, whole_tally))
    sliced: dict[str, list] = {}
    tally = FleetTally()
    for users in (range(0, 3), range(3, 6), range(6, 7)):
        part = by_user(simulate_fleet(SPEC, tally, users))
        assert not set(part) & set(sliced)
        sliced.update(part)
    assert sliced == whole
    assert len(whole) >= 5  # several users (one of the seven is on a break these days)
    assert (tally.records, tally.workouts, tally.malformed, tally.duplicates) == (
        whole_tally.records, whole_tally.workouts, whole_tally.malformed,
        whole_tally.duplicates)
    assert sum(len(v) for v in whole.values()) == whole_tally.records > 100
