"""The events rate of the pipeline health (fitstream/kafka/log_watch.py): pure parts."""

from hypothesis import given
from hypothesis import strategies as st

from fitstream.kafka.log_watch import EventRate, lag


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
