"""The pipeline core: one batch of decoded workout events in, every output and the state
to keep out. Pure: no I/O, no engine. Faust (streams/faust), the Spark backfill
(jobs/backfill.py) and the tests run this same code; a Flink job would too.

The shape follows Bytewax's ``StatefulBatchLogic`` (a batch in; what to emit and a
state snapshot out) and Quix Streams' ``State`` (keyed state behind a small port):

- the engine gives :func:`run_batch` the events in log order, each with a ref
  ``[partition, offset, record_timestamp_ms | None]``, and a :class:`KeyedState` that
  reads the state it holds (:data:`STATE_STORES`, each keyed as documented there);
- :func:`run_batch` returns a :class:`PipelineResult`: the records to send, each list
  typed by its contract (fitstream/domain/views.py) and catalogued with its topic,
  subject and key in ``fitstream.kafka.topics.OUTPUTS``; the rejections to
  dead-letter; and :attr:`PipelineResult.snapshot`, every touched key's new state, to
  write back once per key before (or with) the sends.

What happens to a batch, in order:

1. sessions (:func:`fitstream.domain.session_batch.apply_batch`): each event judged
   against its own user's clock, applied to the user's session for the workout;
   summaries, routes, claims, distance goals passed, rejections;
2. the completed workouts it touched, in completion order, to their users'
   leaderboard totals (entries), achievements (progress, unlocks, records) and feature
   histories (feature rows);
3. notifications for the unlocks, records and goals; and one board completion per
   weekly board each completed workout counts on, for the second keyed stage
   (:func:`run_board_batch`, keyed by board), which decides who enters a board's top
   places.

State is bounded (issue 13): sessions retire once their user's settled clock is past
their end by the allowed lateness and the bounds' reach, and the ids the leaderboards
and achievements counted go with them (session_batch.py); the boards stage retires
boards of weeks long past, per scope (board_retention.py).

Every touched entity re-sends its current outputs, changed or not: sends and state
writes are separate, so after a crash between them a replay of the batch heals what
was lost, and every consumer is idempotent. Two dead letters are not re-made that way:
those of a workout given up as unknown, and of buffered events refused when a gap
filler releases them. The saved session no longer holds them, so a crash after the
state write and before the sends loses those dead letters (the events stay in the log).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, cast

from fitstream.domain.achievements import UserAchievements, apply_completed_workouts
from fitstream.domain.board_retention import BoardIndex, index_key
from fitstream.domain.event_time import EventTimePolicy, UserClock
from fitstream.domain.events import WorkoutEvent
from fitstream.domain.features import UserFeatureHistory, apply_completed_to_features
from fitstream.domain.leaderboards import UserLeaderboardTotals, count_completed_workouts
from fitstream.domain.notifications import (
    WeeklyBoard,
    board_completion,
    for_entrant,
    for_goal,
    for_record,
    for_unlock,
    weekly_board_keys,
)
from fitstream.domain.session_batch import UserClocks, apply_batch, retirement_key
from fitstream.domain.views import (
    AchievementProgress,
    AchievementUnlocked,
    BoardCompletion,
    LeaderboardEntry,
    Notification,
    PersonalRecord,
    UserFeatures,
    WorkoutClaim,
    WorkoutRoute,
    WorkoutSummary,
)
from fitstream.domain.workout_session import Rejection, WorkoutSession

# The state stores of the events stage, and the key of each.
# "<user_id>/<workout_id>" (session_batch.session_key), and "<user_id>/": the user's
# retirement index (session_batch.retirement_key)
SESSIONS: Final = "sessions"
CLOCKS: Final = "clocks"  # user_id
TOTALS: Final = "totals"  # user_id: leaderboard totals
ACHIEVEMENTS: Final = "achievements"  # user_id
FEATURES: Final = "features"  # user_id: feature history
STATE_STORES: Final = (SESSIONS, CLOCKS, TOTALS, ACHIEVEMENTS, FEATURES)
# The state store of the boards stage: board key ("window|period|sport").
BOARDS: Final = "boards"

EventRef = list[Any]
"""``[partition, offset, record_timestamp_ms | None]``: where an event was read. It is
kept in session state with buffered events, so it is a plain JSON list."""


class KeyedState(Protocol):
    """Read access to the state an engine keeps (a Faust table, Flink keyed state, a
    dict in the backfill): the JSON-able state last written for a key, or None."""

    def get(self, store: str, key: str) -> dict[str, Any] | None: ...


@dataclass
class PipelineResult:
    """Everything one batch causes. Lists are in the order they must be sent."""

    summaries: list[WorkoutSummary] = field(default_factory=list)
    routes: list[WorkoutRoute] = field(default_factory=list)
    claims: list[WorkoutClaim] = field(default_factory=list)
    leaderboard_entries: list[LeaderboardEntry] = field(default_factory=list)
    progress: list[AchievementProgress] = field(default_factory=list)
    unlocks: list[AchievementUnlocked] = field(default_factory=list)
    records: list[PersonalRecord] = field(default_factory=list)
    features: list[UserFeatures] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    board_completions: list[BoardCompletion] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    # (store, key) -> the state to write, or None to delete the key.
    snapshot: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)


def _position(ref: EventRef) -> int | None:
    # Partition, then offset, in one int (offsets stay below 2**40, partitions below
    # 2**12, so it is exact in JSON): a user's events in log order even where they span
    # partitions (a partition count that changed, bronze read back by the backfill).
    return (ref[0] << 40) | ref[1]


def _record_time(ref: EventRef) -> int | None:
    return ref[2]


def run_batch(events: Iterable[tuple[WorkoutEvent, EventRef]], state: KeyedState,
              policy: EventTimePolicy) -> PipelineResult:
    """One batch of decoded events, in log order, through every stage; see the module
    docstring. Events of many users may be mixed: each is judged by its own user's
    state, so the result does not depend on how users share partitions or batches."""

    def loader(store: str, from_state: Any) -> Any:
        def load(key: str) -> Any:
            stored = state.get(store, key)
            return from_state(stored) if stored is not None else None
        return load

    clocks = UserClocks(loader(CLOCKS, UserClock.from_state))
    sessions = apply_batch(events, loader(SESSIONS, WorkoutSession.from_state), clocks,
                           policy, position=_position, record_time=_record_time,
                           load_index=lambda user_id: state.get(SESSIONS,
                                                                retirement_key(user_id)))
    completed = sessions.completed_summaries()
    totals, entries = count_completed_workouts(
        completed, loader(TOTALS, UserLeaderboardTotals.from_state),
        lambda user_id: clocks[user_id].settled, policy.allowed_lateness_ms)
    achievements, changes = apply_completed_workouts(
        completed, loader(ACHIEVEMENTS, UserAchievements.from_state),
        lambda user_id: clocks[user_id].settled, policy.allowed_lateness_ms)
    histories, feature_rows = apply_completed_to_features(
        completed, loader(FEATURES, UserFeatureHistory.from_state))

    result = PipelineResult(
        summaries=cast(list[WorkoutSummary], sessions.summaries),
        routes=cast(list[WorkoutRoute], sessions.routes),
        claims=cast(list[WorkoutClaim], sessions.claims),
        leaderboard_entries=cast(list[LeaderboardEntry], entries),
        progress=cast(list[AchievementProgress], changes.progress),
        unlocks=cast(list[AchievementUnlocked], changes.unlocked),
        records=cast(list[PersonalRecord], changes.records),
        features=cast(list[UserFeatures], feature_rows),
        notifications=cast(list[Notification], [
            *map(for_unlock, changes.unlocked), *map(for_record, changes.records),
            *map(for_goal, sessions.goals)]),
        board_completions=cast(list[BoardCompletion], [
            board_completion(board, summary)
            for summary in completed for board in weekly_board_keys(summary)]),
        rejections=sessions.rejections,
        duplicates=sessions.duplicates,
    )
    for store, touched in ((SESSIONS, sessions.sessions), (CLOCKS, clocks.touched),
                           (TOTALS, totals), (ACHIEVEMENTS, achievements),
                           (FEATURES, histories)):
        for key, entity in touched.items():
            result.snapshot[(store, key)] = entity.to_state()
    # Retired sessions, and the index that finds them (session_batch.py: retirement).
    for key in sessions.retired:
        result.snapshot[(SESSIONS, key)] = None
    for user_id, index in sessions.indexes.items():
        result.snapshot[(SESSIONS, retirement_key(user_id))] = index
    return result


@dataclass
class BoardResult:
    """What a batch of board completions causes: notifications for the users who
    entered a board's top places, and the boards' new state."""

    notifications: list[Notification] = field(default_factory=list)
    snapshot: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)


def run_board_batch(completions: Iterable[BoardCompletion], state: KeyedState,
                    scope: str | None = None) -> BoardResult:
    """The second keyed stage (by board): completions in the order they were read.

    Which user enters a board's top places can depend on the order in which different
    users' completions reach the board when more than the top places compete
    (:class:`~fitstream.domain.notifications.WeeklyBoard`); within one board's
    partition the order is the log's. With a ``scope`` (the partition the batch was
    read from), boards of weeks long past are retired (board_retention.py)."""
    index = BoardIndex.from_state(state.get(BOARDS, index_key(scope))) \
        if scope is not None else None
    by_board: dict[str, list[BoardCompletion]] = {}
    for completion in completions:
        if index is None or index.admits(completion["board"]):
            by_board.setdefault(completion["board"], []).append(completion)
    result = BoardResult()
    for key, batch in by_board.items():
        stored = state.get(BOARDS, key)
        board = WeeklyBoard.from_state(stored) if stored is not None else WeeklyBoard(key)
        entrants = board.add(cast(list[dict[str, Any]], batch))
        result.snapshot[(BOARDS, key)] = board.to_state()
        result.notifications += cast(list[Notification], [for_entrant(e) for e in entrants])
    if index is not None and scope is not None:
        for key, batch in by_board.items():
            for completion in batch:
                index.observe(key, completion["end_time"])
        for key in index.retire():
            result.snapshot[(BOARDS, key)] = None
        result.snapshot[(BOARDS, index_key(scope))] = index.to_state()
    return result
