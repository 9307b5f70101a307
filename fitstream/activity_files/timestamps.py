"""File times to epoch milliseconds, in integers (a float timestamp loses milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime

from fitstream.activity_files.track import ActivityFileError, FileKind

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; a time without a zone is UTC (GPX and TCX say so).

    A time no clock can show (a zone offset of 24 h or more, which ``datetime`` only
    refuses when the offset is used, or a year out of range once moved to UTC) is a
    corrupt file (:class:`ActivityFileError`), never an unhandled error."""
    try:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - EPOCH
    except (ValueError, OverflowError, TypeError) as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"a time in the file is not a valid time: "
                                f"{str(exc)[:200]}") from exc
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
