"""The dead-letter record: the original bytes as the value, the story in headers.

Headers (all UTF-8): ``dlq.reason`` (a DeadLetterReason), ``dlq.detail``,
``dlq.source.topic``, ``dlq.source.partition``, ``dlq.source.offset`` and
``dlq.value``: ``original`` when the value is the bytes as read, or ``reencoded``
when the record had been decoded and buffered first (the source offset still
points at the original in the log).
"""

from __future__ import annotations

from dataclasses import dataclass

from fitstream.domain.dead_letter import DeadLetterReason


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record sits in the log."""

    topic: str
    partition: int
    offset: int


def dead_letter_headers(reason: DeadLetterReason, detail: str, source: SourceRef,
                        reencoded: bool = False) -> list[tuple[str, bytes]]:
    return [
        ("dlq.reason", reason.value.encode()),
        ("dlq.detail", detail.encode()[:1000]),
        ("dlq.source.topic", source.topic.encode()),
        ("dlq.source.partition", str(source.partition).encode()),
        ("dlq.source.offset", str(source.offset).encode()),
        ("dlq.value", b"reencoded" if reencoded else b"original"),
    ]


def read_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode() for k, v in headers or [] if k.startswith("dlq.")}
