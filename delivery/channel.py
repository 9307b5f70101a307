"""The interface every delivery channel implements, and how channels are chosen from settings.

Lifecycle: the delivery worker builds each configured channel once, calls
:meth:`NotificationChannel.send` from that channel's own thread (one delivery at a
time), and :meth:`NotificationChannel.close` at shutdown. ``send`` returns once
the provider accepted the delivery, or raises :class:`DeliveryFailed`: retryable
(a timeout, a 5xx, a refused connection) or permanent (a rejected address).
Every send carries ``delivery.delivery_id`` as its idempotency key, so a provider
can drop a repeat.
"""

from __future__ import annotations

from typing import Protocol

from fitstream.domain.delivery import Delivery
from fitstream.domain.notifications import Channel
from fitstream.settings import NotificationSettings


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NotificationChannel(Protocol):
    channel: Channel

    def send(self, delivery: Delivery) -> None:
        """Hand one delivery to the provider; DeliveryFailed if it did not take it."""
        ...

    def close(self) -> None: ...


def configured_channels(settings: NotificationSettings) -> dict[Channel, NotificationChannel]:
    """The channels whose endpoints are set; the others are unreachable."""
    channels: dict[Channel, NotificationChannel] = {}
    if settings.push_webhook_url:
        from delivery.push_webhook import PushWebhookChannel

        channels[Channel.PUSH] = PushWebhookChannel(settings)
    if settings.smtp_host:
        from delivery.smtp_email import SmtpEmailChannel

        channels[Channel.EMAIL] = SmtpEmailChannel(settings)
    if settings.sms_gateway_url:
        from delivery.sms_gateway import SmsGatewayChannel

        channels[Channel.SMS] = SmsGatewayChannel(settings)
    return channels
