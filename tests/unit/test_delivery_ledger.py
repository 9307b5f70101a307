"""Issue 13 item 6: the delivery worker's ledger is bounded (delivery/ledger.py) without
forgetting a delivery that can still be seen again: one a restart could read again
(at or above the committed offset), or one the processor could still re-send (its
notification within the horizon of its user's latest)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from delivery.ledger import DeliveryLedger

HOUR = 3_600_000
DAY = 24 * HOUR
HORIZON = 11 * DAY
RETENTION = 90 * DAY
TOPIC = "notifications.v1"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), users=st.integers(1, 5), partitions=st.integers(1, 3))
def test_an_entry_stays_while_it_can_be_seen_again_and_no_longer(seed, users, partitions):
    rng = random.Random(seed)
    ledger = DeliveryLedger(HORIZON, RETENTION)
    now = 1_800_000_000_000
    clock = dict.fromkeys(range(users), now - 400 * DAY)  # each user's event time
    read_to = dict.fromkeys(range(partitions), 0)  # the next offset per partition
    committed: dict[tuple[str, int], int] = {}
    added: dict[str, tuple[int, int, int, int, int]] = {}  # id -> user, created, p, o, at
    latest: dict[int, int] = {}  # the true latest created_at per user
    for step in range(400):
        now += rng.randint(0, 6 * HOUR)
        user = rng.randrange(users)
        clock[user] += rng.randint(0, 3 * DAY)
        # A notification created up to 2 days before its user's clock (a late sync).
        created = clock[user] - rng.randint(0, 2 * DAY)
        partition = user % partitions
        offset = read_to[partition]
        read_to[partition] += 1
        latest[user] = max(latest.get(user, created), created)
        ledger.seen(f"u{user}", created)
        if rng.random() < 0.7:
            delivery = f"n{step}|push"
            ledger.add(delivery, f"u{user}", now, created, TOPIC, partition, offset)
            added[delivery] = (user, created, partition, offset, now)
        if rng.random() < 0.1:
            for p, end in read_to.items():
                committed[(TOPIC, p)] = max(committed.get((TOPIC, p), 0),
                                            rng.randint(0, end))
            ledger.prune(committed, now)
            for delivery, (u, created_at, p, o, at) in added.items():
                readable_again = o >= committed.get((TOPIC, p), 0)
                resendable = created_at + HORIZON >= latest[u]
                if at >= now - RETENTION and (readable_again or resendable):
                    assert delivery in ledger, (delivery, step)
    # Everything committed and every user far ahead: only the wall-clock window's
    # entries within each user's horizon remain.
    for p, end in read_to.items():
        committed[(TOPIC, p)] = end
    for user in range(users):
        ledger.seen(f"u{user}", latest.get(user, 0) + 30 * DAY)
    ledger.prune(committed, now)
    assert len(ledger) == 0


def test_entries_read_back_at_start_go_by_the_topic_retention_alone():
    ledger = DeliveryLedger(HORIZON, RETENTION)
    now = 1_800_000_000_000
    ledger.read_back("n1|push", "u1", now - RETENTION - 1)
    ledger.read_back("n2|push", "u1", now - RETENTION + 1)
    ledger.seen("u1", now + 365 * DAY)
    ledger.prune({(TOPIC, 0): 10**9}, now)
    assert "n1|push" not in ledger and "n2|push" in ledger
