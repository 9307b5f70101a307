"""The pipeline health's pure parts (fitstream/kafka/log_watch.py): the events rate, lag,
and the dead letters counted by reason with the newest kept."""

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from fitstream.kafka.log_watch import OTHER, DeadLetterCounts, EventRate, lag


def test_the_rate_is_the_change_in_end_offsets_over_the_window():
    rate = EventRate(window_s=10, max_samples=64)
    assert rate.add(100.0, 1_000) is None  # one reading: nothing to divide
    assert rate.add(102.0, 1_050) == 25.0
    assert rate.add(104.0, 1_150) == 37.5  # (1150 - 1000) / 4
    # The reading at 100 s leaves the window: from 102 s on.
    assert rate.add(111.0, 1_190) == 140 / 9


def test_a_recreated_topic_reads_as_zero_not_negative():
    rate = EventRate()
    rate.add(0.0, 500)
    assert rate.add(1.0, 10) == 0


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=300))
def test_memory_is_bounded_by_max_samples(steps):
    rate = EventRate(window_s=1e9, max_samples=8)
    total = 0
    for i, step in enumerate(steps):
        total += step
        rate.add(float(i), total)
    assert len(rate._samples) <= 8


def test_lag_is_what_a_group_has_not_committed_and_all_of_it_without_commits():
    assert lag({0: 10, 1: 5}, {0: 7, 1: 5}) == 3
    assert lag({0: 10, 1: 5}, {0: 7}) == 8
    assert lag({0: 10, 1: 5}, None) == 15


DLQ = "workouts.events.dlq.v1"


def letter_headers(reason: str) -> list[tuple[str, bytes]]:
    return [("dlq.reason", reason.encode()), ("dlq.source.topic", b"workouts.events.v1"),
            ("dlq.source.partition", b"3"), ("dlq.source.offset", b"88")]


def test_the_newest_letters_are_kept_whatever_partition_is_read_last():
    # The first catch-up reads partition 1 (newer letters) to its end, then partition 0,
    # whose letters are all older: keeping the last read would show only partition 0's.
    counts = DeadLetterCounts(keep=3)
    for offset, at in enumerate((5_000, 6_000, 7_000)):
        counts.add(DLQ, 1, offset, at, letter_headers("late"))
    for offset, at in enumerate((1_000, 2_000, 3_000, 4_000)):
        counts.add(DLQ, 0, offset, at, letter_headers("malformed"))
    assert [(d.partition, d.offset, d.timestamp_ms) for d in counts.newest()] == [
        (1, 2, 7_000), (1, 1, 6_000), (1, 0, 5_000)]
    assert counts.by_reason == {(DLQ, "late"): 3, (DLQ, "malformed"): 4}


def test_equal_times_are_ordered_by_topic_partition_offset():
    counts = DeadLetterCounts(keep=2)
    for partition, offset in ((0, 9), (2, 1), (1, 5), (2, 0)):
        counts.add(DLQ, partition, offset, 1_000, letter_headers("late"))
    assert [(d.partition, d.offset) for d in counts.newest()] == [(2, 1), (2, 0)]


positions = st.lists(st.tuples(st.sampled_from([DLQ, "scores.dlq.v1"]), st.integers(0, 3),
                               st.integers(0, 10**6), st.integers(0, 10**13)),
                     unique_by=lambda p: p[:3], max_size=200)


@given(positions, st.integers(0, 25))
def test_the_kept_letters_are_the_top_keep_in_any_reading_order(letters, keep):
    counts = DeadLetterCounts(keep=keep)
    for topic, partition, offset, at in letters:
        counts.add(topic, partition, offset, at, letter_headers("late"))
    expected = sorted(((at, t, p, o) for t, p, o, at in letters), reverse=True)[:keep]
    assert [(d.timestamp_ms, d.topic, d.partition, d.offset)
            for d in counts.newest()] == expected
    assert len(counts._newest) == min(keep, len(letters))  # the heap stays bounded


@given(st.lists(st.tuples(st.sampled_from([DLQ, "scores.dlq.v1"]),
                          st.text(max_size=80)), max_size=300), st.integers(1, 70))
def test_reasons_are_bounded_in_kinds_and_length_and_every_letter_is_counted(
        letters, max_reasons):
    counts = DeadLetterCounts(keep=5, max_reasons=max_reasons)
    for offset, (topic, reason) in enumerate(letters):
        counts.add(topic, 0, offset, offset, letter_headers(reason))
    # Every letter counted once; at most max_reasons kinds plus an ``other`` per topic.
    assert sum(counts.by_reason.values()) == len(letters)
    assert len(counts.by_reason) <= max_reasons + 2
    assert all(len(reason) <= 64 for _, reason in counts.by_reason)
    # The first max_reasons kinds seen are counted under their own (cut) reason.
    first: list[tuple[str, str]] = []
    for topic, reason in letters:
        kind = (topic, reason[:64])
        if kind not in first and len(first) < max_reasons:
            first.append(kind)
    for kind in first:
        assert counts.by_reason[kind] == sum(
            1 for t, r in letters if (t, r[:64]) == kind) or kind[1] == OTHER


def test_the_65th_kind_of_reason_counts_as_other():
    counts = DeadLetterCounts()  # the tally's default: 64 kinds
    for i in range(64):
        counts.add(DLQ, 0, i, i, letter_headers(f"reason-{i}"))
    counts.add(DLQ, 0, 64, 64, letter_headers("reason-64"))
    counts.add(DLQ, 0, 65, 65, letter_headers("reason-65"))
    counts.add(DLQ, 0, 66, 66, letter_headers("reason-3"))  # a kind already counted
    assert len(counts.by_reason) == 65
    assert counts.by_reason[(DLQ, OTHER)] == 2
    assert counts.by_reason[(DLQ, "reason-3")] == 2
    assert (DLQ, "reason-64") not in counts.by_reason
    assert [d.reason for d in counts.newest()[:3]] == ["reason-3", OTHER, OTHER]


def test_a_reason_is_cut_to_64_characters():
    counts = DeadLetterCounts()
    counts.add(DLQ, 0, 0, 0, letter_headers("x" * 63 + "é" + "y" * 500))
    assert counts.by_reason == {(DLQ, "x" * 63 + "é"): 1}
    assert counts.newest()[0].reason == "x" * 63 + "é"


def test_no_payload_nor_detail_is_kept_and_hostile_headers_do_not_raise():
    secret = "heart rate 131 at Tiergarten, user ana.k"
    counts = DeadLetterCounts()
    counts.add(DLQ, 2, 7, 1_000, [
        ("dlq.reason", b"malformed"), ("dlq.detail", f"payload: {secret}".encode()),
        ("dlq.source.topic", b"workouts.events.v1"), ("dlq.source.partition", "²".encode()),
        ("dlq.source.offset", b"9" * 5000), ("x-user", secret.encode())])
    counts.add(DLQ, 2, 8, 2_000, [("dlq.reason", b"\xff\xfe late"), ("dlq.source.topic", None)])
    counts.add(DLQ, 2, 9, 3_000, None)
    assert secret not in repr(vars(counts))
    newest = counts.newest()
    assert [asdict(d) for d in newest] == [
        {"reason": "unknown", "topic": DLQ, "partition": 2, "offset": 9, "timestamp_ms": 3_000,
         "source_topic": None, "source_partition": None, "source_offset": None},
        {"reason": "\ufffd\ufffd late", "topic": DLQ, "partition": 2, "offset": 8,
         "timestamp_ms": 2_000, "source_topic": None, "source_partition": None,
         "source_offset": None},
        {"reason": "malformed", "topic": DLQ, "partition": 2, "offset": 7, "timestamp_ms": 1_000,
         "source_topic": "workouts.events.v1", "source_partition": None,
         "source_offset": None}]
