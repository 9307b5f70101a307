"""The weekly-boards agent: completed workouts per weekly distance board in; notifications
for users who entered a board's top places out.

Its input is re-keyed by board (``window|period|sport``) by the workout-session
agent, so one partition holds every completion of a board and the board's state
(:class:`WeeklyBoard`, in the ``weekly-boards`` table) lives beside it. Per batch,
each touched board is loaded once, fed its completions, stored once, and the
entrants it returns are sent as notifications. As in the session agent, sends go
out at once and a repeated completion re-sends what it caused, so a crash between
the state write and the send heals on replay.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from fitstream.contracts import AvroSerde
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.notifications import WeeklyBoard, for_entrant
from fitstream.kafka.dead_letter import SourceRef
from streams.faust.app import WorkoutSessionsApp
from streams.faust.batches import each_batch

NOTIFICATION_SUBJECT = "fitstream.notifications.Notification"

DeadLetter = Callable[[bytes | None, bytes | None, DeadLetterReason, str, SourceRef],
                      Awaitable[None]]
"""Sends a refused record to the DLQ: raw value, key, reason, detail, where it was read."""

REQUIRED = ("board", "user_id", "workout_id", "end_time", "distance_mm")


def add_weekly_boards_agent(wiring: WorkoutSessionsApp, serde: AvroSerde,
                            dead_letter: DeadLetter) -> None:
    topic_name = wiring.settings.kafka.board_completions_topic
    boards_table = wiring.weekly_boards

    @wiring.app.agent(wiring.board_completions, isolated_partitions=True, name="weekly-boards")
    async def weekly_boards(stream: Any) -> None:
        await each_batch(stream, wiring.settings.processor, process_batch)

    async def process_batch(batch: list[Any]) -> None:
        by_board: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in batch:
            message = event.message
            try:
                completion = orjson.loads(event.value)
                if not isinstance(completion, dict):
                    raise ValueError(f"a JSON {type(completion).__name__}, not an object")
                missing = [f for f in REQUIRED if f not in completion]
                if missing:
                    raise ValueError(f"missing fields {missing}")
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                await dead_letter(event.value, message.key, DeadLetterReason.MALFORMED,
                                  f"not a board completion: {exc}",
                                  SourceRef(topic_name, message.partition, message.offset))
                continue
            by_board[completion["board"]].append(completion)
        for key, completions in by_board.items():
            stored = boards_table.get(key.encode())
            board = WeeklyBoard.from_state(orjson.loads(stored)) if stored else WeeklyBoard(key)
            entrants = board.add(completions)
            boards_table[key.encode()] = orjson.dumps(board.to_state())
            for entrant in entrants:
                notification = for_entrant(entrant)
                await wiring.notifications.send(
                    key=notification["user_id"].encode(),
                    value=serde.encode(NOTIFICATION_SUBJECT, notification), force=True)
