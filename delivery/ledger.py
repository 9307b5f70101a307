"""The delivery worker's ledger: which deliveries already have an outcome, so that a
notification seen again is not sent again; and how long each entry is kept.

A notification can be seen again for two reasons, and an entry is kept while either
can still happen:

1. **The worker reads it again**: after a restart it resumes from the committed
   offset of ``notifications.v1``. An entry whose notification lies below its
   partition's committed offset can no longer be read again this way.
2. **The processor sends it again**: every touched entity re-sends its outputs
   (fitstream/domain/pipeline.py), so a re-delivered event of a workout re-sends the
   notifications that workout caused, at a new offset. Such an event passes the
   processor's lateness rule only within the allowed lateness of its user's clock, and
   a notification's ``created_at`` is at most the bounds' end lag before the events
   that can re-send it; the processor forgets the workout (session_batch.py:
   retirement) :func:`~fitstream.domain.session_batch.retirement_horizon_ms` (allowed
   lateness plus 9 days) after it ended. So an entry whose ``created_at`` is more than
   that horizon behind its user's clock cannot be re-sent. The ledger does not see the
   user's clock; it sees the latest ``created_at`` among the user's notifications,
   which is never ahead of it, so judging by that keeps an entry at least as long.

An entry goes when neither can happen any more (below the commit position *and*
beyond the horizon of its user's latest notification), or once its outcome is older
than the deliveries topic's retention (fitstream/kafka/topics.py), whichever comes
first: after that a restarted worker would not read it from the topic either, so a
long-running worker keeps nothing a restart would have. Entries read back from the
deliveries topic at start know neither their notification's time nor its offset, and
go by that age alone.

What this leaves, as before: a device re-sending a workout's events long after its
user's last notification (the user trained nothing since, so the ledger's view of
their clock has not moved) is recognised for as long as the topic keeps outcomes (90
days); after that the send repeats, with the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    user_id: str
    at: int  # the outcome's wall-clock time, epoch ms
    created_at: int | None = None  # the notification's, epoch ms (None: read back)
    topic: str | None = None  # where the notification was read (None: read back)
    partition: int = -1
    offset: int = -1


class DeliveryLedger:
    """Delivery id -> :class:`Entry`, pruned by :meth:`prune` (module docstring)."""

    def __init__(self, horizon_ms: int, retention_ms: int) -> None:
        self.horizon_ms = horizon_ms
        self.retention_ms = retention_ms
        self._entries: dict[str, Entry] = {}
        # user_id -> the latest created_at among their notifications seen.
        self._user_clock: dict[str, int] = {}

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def read_back(self, delivery_id: str, user_id: str, at: int) -> None:
        """An outcome read from the deliveries topic at start."""
        known = self._entries.get(delivery_id)
        if known is None or known.at < at:
            self._entries[delivery_id] = Entry(user_id, at)

    def seen(self, user_id: str, created_at: int) -> None:
        """A notification of the user was read: their clock is at least its time."""
        if created_at > self._user_clock.get(user_id, created_at - 1):
            self._user_clock[user_id] = created_at

    def add(self, delivery_id: str, user_id: str, at: int, created_at: int, topic: str,
            partition: int, offset: int) -> None:
        """An outcome of this worker's, for a notification read at topic/partition/offset."""
        self.seen(user_id, created_at)
        self._entries[delivery_id] = Entry(user_id, at, created_at, topic, partition, offset)

    def prune(self, committed: dict[tuple[str, int], int], now_ms: int) -> int:
        """Drop what can no longer be seen again; ``committed``: (topic, partition) ->
        committed offset. Returns how many entries went."""
        oldest = now_ms - self.retention_ms
        gone = [delivery_id for delivery_id, entry in self._entries.items()
                if entry.at < oldest or self._settled(entry, committed)]
        for delivery_id in gone:
            del self._entries[delivery_id]
        users = {entry.user_id for entry in self._entries.values()}
        self._user_clock = {u: t for u, t in self._user_clock.items() if u in users}
        return len(gone)

    def _settled(self, entry: Entry, committed: dict[tuple[str, int], int]) -> bool:
        if entry.created_at is None or entry.topic is None:
            return False
        below_commit = entry.offset < committed.get((entry.topic, entry.partition), -1)
        clock = self._user_clock.get(entry.user_id, entry.created_at)
        return below_commit and entry.created_at + self.horizon_ms < clock
