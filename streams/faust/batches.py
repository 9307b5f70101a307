"""How every agent here takes its input: in batches, and never past a failed one."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from fitstream.settings import ProcessorSettings

log = structlog.get_logger("streams.batches")

BatchHandler = Callable[[list[Any]], Awaitable[None]]
"""Processes one batch of one partition's events; raising ends the worker."""


async def each_batch(stream: Any, processor: ProcessorSettings, handle: BatchHandler) -> None:
    """Feed ``handle`` batches of up to ``batch_max_records`` (or what ``batch_within_s``
    brings) from one partition.

    take_events yields outside the stream's own context: the batch's last event is
    made current, so table writes reach this partition's changelog. take_events acks a
    batch even when its consumer raises; exiting before the next commit keeps the
    batch in the log (at least once). Domain failures never get here: handlers
    dead-letter them.
    """
    async for batch in stream.take_events(processor.batch_max_records,
                                          within=processor.batch_within_s):
        stream._set_current_event(batch[-1])
        try:
            await handle(batch)
        except Exception:
            log.exception("batch_failed", partition=batch[0].message.partition,
                          first_offset=batch[0].message.offset)
            os._exit(70)
