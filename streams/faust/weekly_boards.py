"""The weekly-boards agent: completed workouts per weekly distance board in; notifications
for users who entered a board's top places out.

Its input (BoardCompletion records) is re-keyed by board (``window|period|sport``) by
the workout-session agent, so one partition holds every completion of a board and the
board's state (the ``weekly-boards`` table) lives beside it. What a batch causes is
decided by :func:`fitstream.domain.pipeline.run_board_batch`; this adapter decodes,
loads and stores the boards, and sends. As in the session agent, sends go out at once
and a repeated completion re-sends what it caused, so a crash between the state write
and the send heals on replay. A notification carries the trace of the completion that
caused it (fitstream/observability/tracing.py ``BatchTraces``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fitstream.contracts import AvroSerde, SerdeError, subjects
from fitstream.domain import pipeline
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.kafka.dead_letter import SourceRef
from fitstream.kafka.topics import BOARD_OUTPUTS
from fitstream.observability import tracing
from streams.faust.app import WorkoutSessionsApp
from streams.faust.batches import each_batch
from streams.faust.table_state import TableState

DeadLetter = Callable[[bytes | None, bytes | None, DeadLetterReason, str, SourceRef],
                      Awaitable[None]]
"""Sends a refused record to the DLQ: raw value, key, reason, detail, where it was read."""


def add_weekly_boards_agent(wiring: WorkoutSessionsApp, serde: AvroSerde,
                            dead_letter: DeadLetter) -> None:
    kafka = wiring.settings.kafka
    topic_name = kafka.board_completions_topic
    state = TableState({pipeline.BOARDS: wiring.weekly_boards})

    @wiring.app.agent(wiring.board_completions, isolated_partitions=True, name="weekly-boards")
    async def weekly_boards(stream: Any) -> None:
        await each_batch(stream, wiring.settings.processor, process_batch)

    async def process_batch(batch: list[Any]) -> None:
        completions = []
        # Ends the batch's spans even if it fails (exported, marked as errors).
        with tracing.BatchTraces() as traces:
            for event in batch:
                message = event.message
                try:
                    subject, completion = serde.decode(event.value)
                    if subject != subjects.BOARD_COMPLETION:
                        raise SerdeError("malformed", f"a {subject}, not a board completion")
                except SerdeError as exc:
                    await dead_letter(event.value, message.key, DeadLetterReason(exc.reason),
                                      f"not a board completion: {exc}",
                                      SourceRef(topic_name, message.partition, message.offset))
                    continue
                completions.append(completion)
                traces.consumed(message.headers, topic_name, message.partition, message.offset,
                                completion["user_id"], completion["workout_id"])
            # Scoped by partition: each partition retires its own boards (board_retention.py).
            result = pipeline.run_board_batch(completions, state,
                                              scope=str(batch[0].message.partition))
            state.write(result.snapshot)
            for output in BOARD_OUTPUTS:
                for record in getattr(result, output.result_field):
                    await wiring.outputs[output.topic(kafka)].send(
                        key=record[output.key_field].encode(),
                        value=serde.encode(output.subject, record),
                        headers=traces.headers_for(record), force=True)
