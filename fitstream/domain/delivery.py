"""Delivering a notification: which channels, to which address, and when to try again.

A notification goes to the in-app inbox always, and to each external channel the
user chose (push, email, SMS) that has an address. Each (notification, channel)
pair is one *delivery* with a deterministic id, which is the idempotency key a
channel passes on (a webhook header, an email Message-ID), so a delivery retried
or repeated after a crash is recognisable downstream.

A failing delivery is retried with exponential backoff, up to ``max_attempts``;
after that it is dead-lettered. A permanent failure (a rejected address, say)
is dead-lettered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fitstream.domain.notifications import Channel

EXTERNAL_CHANNELS = (Channel.PUSH, Channel.EMAIL, Channel.SMS)


@dataclass(frozen=True)
class ChannelPreferences:
    """One user's choice of external channels, and their addresses."""

    user_id: str
    channels: frozenset[Channel] = field(default_factory=frozenset)
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ChannelPreferences:
        return cls(record["user_id"], frozenset(Channel(c) for c in record["channels"]),
                   record.get("email"), record.get("phone"))

    def address(self, channel: Channel) -> str | None:
        """Where a channel reaches the user; push goes by user id through the gateway."""
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.phone
        return self.user_id


@dataclass(frozen=True)
class Delivery:
    notification: dict[str, Any]
    channel: Channel
    address: str

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.notification["notification_id"], self.channel)


def delivery_id(notification_id: str, channel: Channel | str) -> str:
    return f"{notification_id}|{Channel(channel).value}"


def plan_deliveries(notification: dict[str, Any], preferences: ChannelPreferences,
                    ) -> tuple[list[Delivery], list[Channel]]:
    """The external deliveries to make, and the chosen channels that have no address."""
    deliveries, unreachable = [], []
    for channel in EXTERNAL_CHANNELS:
        if channel not in preferences.channels:
            continue
        address = preferences.address(channel)
        if address:
            deliveries.append(Delivery(notification, channel, address))
        else:
            unreachable.append(channel)
    return deliveries, unreachable


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: waits of ``base_s``, then doubling, capped at ``max_s``;
    ``max_attempts`` tries in all."""

    max_attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); None: give up."""
        if attempt >= self.max_attempts:
            return None
        return min(self.max_s, self.base_s * 2 ** (attempt - 1))
