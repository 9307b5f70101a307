"""Which offsets the delivery worker may commit: only behind finished notifications."""

from __future__ import annotations

from delivery.worker import OffsetTracker
from fitstream.kafka.dead_letter import SourceRef


def committable(tracker: OffsetTracker) -> dict[int, int]:
    return {tp.partition: tp.offset for tp in tracker.committable()}


def at(partition: int, offset: int) -> SourceRef:
    return SourceRef("notifications", partition, offset)


def test_an_offset_commits_only_when_it_and_every_earlier_one_finished():
    tracker = OffsetTracker()
    tracker.track(at(0, 10), 2)  # push and email
    tracker.track(at(0, 11), 0)  # nothing to send (all delivered before)
    tracker.track(at(0, 12), 1)
    assert committable(tracker) == {0: 10}
    tracker.done(at(0, 12))
    tracker.done(at(0, 10))
    assert committable(tracker) == {0: 10}  # one delivery of offset 10 still retrying
    tracker.done(at(0, 10))
    assert committable(tracker) == {0: 13}


def test_partitions_advance_independently():
    tracker = OffsetTracker()
    tracker.track(at(0, 0), 1)
    tracker.track(at(1, 5), 0)
    assert committable(tracker) == {0: 0, 1: 6}
    tracker.done(at(0, 0))
    assert committable(tracker) == {0: 1, 1: 6}


def test_offsets_with_gaps_advance_past_them():
    """A transactional topic's commit markers take offsets no consumer receives."""
    tracker = OffsetTracker()
    tracker.track(at(0, 3), 1)
    tracker.track(at(0, 5), 0)  # offset 4 is a commit marker
    tracker.track(at(0, 9), 1)  # 6-8: an aborted transaction and its marker
    assert committable(tracker) == {0: 3}
    tracker.done(at(0, 3))
    assert committable(tracker) == {0: 9}
    tracker.done(at(0, 9))
    assert committable(tracker) == {0: 10}
