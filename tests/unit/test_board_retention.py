"""Issue 13 item 6: the weekly boards' state is bounded (board_retention.py): a board is
dropped 28 days after its week ended by its scope's clock, and a completion for it is
then not considered; while completions arrive within that, retention changes no
notification."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from fitstream.domain import pipeline
from fitstream.domain.board_retention import BOARD_RETENTION_MS, index_key, week_end
from fitstream.domain.windows import LeaderboardWindow
from jobs.backfill import DictState

START = 1_793_577_600_000  # 2026-11-02 00:00 UTC, a Monday
DAY = 86_400_000


def completion(user: str, workout: str, end_time: int, metres: int) -> dict:
    board = f"week|{LeaderboardWindow.WEEK.period_of(end_time)}|all"
    return {"board": board, "user_id": user, "workout_id": workout, "end_time": end_time,
            "distance_mm": metres * 1000}


def run(completions: list[dict], batch: int, scope: str | None) -> tuple[list[str], DictState]:
    state = DictState()
    sent = []
    for i in range(0, len(completions), batch):
        result = pipeline.run_board_batch(completions[i:i + batch], state, scope)
        state.stored.update(result.snapshot)
        sent += [n["notification_id"] for n in result.notifications]
    return sent, state


def boards_held(state: DictState) -> set[str]:
    return {k for (store, k), v in state.stored.items()
            if store == pipeline.BOARDS and v is not None and not k.startswith("index|")}


def test_a_board_is_dropped_four_weeks_after_its_week_and_then_ignored():
    first = completion("u1", "w1", START + DAY, 5000)
    board = first["board"]
    sent, state = run([first], 1, "0")
    assert sent == [f"n:u1:top10:{board}"]
    # Still held 28 days after the week's end; dropped the moment the clock passes that.
    at_limit = completion("u2", "w2", week_end(board) + BOARD_RETENTION_MS, 1000)
    state.stored.update(pipeline.run_board_batch([at_limit], state, "0").snapshot)
    assert board in boards_held(state)
    past = completion("u2", "w3", week_end(board) + BOARD_RETENTION_MS + 1, 1000)
    state.stored.update(pipeline.run_board_batch([past], state, "0").snapshot)
    assert board not in boards_held(state)
    index = state.stored[(pipeline.BOARDS, index_key("0"))]
    assert board not in index["boards"] and index["retired_before"] == week_end(board) + 1
    # A completion for the dropped week (a phone offline for a month) is not considered:
    # no board is started again from it, nobody is told.
    late = completion("u3", "w4", START + 2 * DAY, 9000)
    result = pipeline.run_board_batch([late], state, "0")
    assert result.notifications == [] and (pipeline.BOARDS, board) not in result.snapshot
    # Another scope (partition) keeps its own clock.
    assert pipeline.run_board_batch([late], state, "1").notifications != []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), batch=st.sampled_from([1, 3, 20, 1000]))
def test_completions_within_the_retention_are_told_the_same(seed, batch):
    rng = random.Random(seed)
    completions = []
    for day in range(70):  # ten weeks, completions arriving up to 20 days late
        for _ in range(rng.randint(0, 6)):
            end = START + day * DAY + rng.randint(0, DAY - 1) - rng.choice(
                [0, 0, 0, rng.randint(0, 20 * DAY)])
            completions.append(completion(f"u{rng.randint(0, 14)}", f"w{len(completions)}",
                                          end, rng.randint(1000, 20_000)))
    # Re-sent ones (a replayed workout re-sends its completions), some after their
    # board was dropped: the notification they re-send was sent the first time.
    completions += rng.sample(completions, len(completions) // 10)
    unscoped, kept_all = run(completions, batch, None)
    scoped, kept = run(completions, batch, "0")
    assert set(scoped) == set(unscoped)
    clock = max(c["end_time"] for c in completions)
    assert boards_held(kept) == {b for b in boards_held(kept_all)
                                 if week_end(b) >= clock - BOARD_RETENTION_MS}
    assert len(boards_held(kept)) <= 6 < len(boards_held(kept_all))
