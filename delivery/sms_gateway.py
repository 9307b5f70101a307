"""SMS through an HTTP gateway: JSON ``{to, sender, body, reference}``.

Providers differ in their request shape; a provider whose API differs gets its
own module implementing the same NotificationChannel interface.
"""

from __future__ import annotations

import httpx

from delivery.http_post import post_delivery
from fitstream.domain.delivery import Delivery
from fitstream.domain.notifications import Channel
from fitstream.settings import NotificationSettings

SMS_MAX_CHARS = 320  # two concatenated segments


class SmsGatewayChannel:
    channel = Channel.SMS

    def __init__(self, settings: NotificationSettings) -> None:
        self._url = settings.sms_gateway_url
        self._sender = settings.sms_sender
        self._authorization = settings.sms_gateway_authorization
        self._client = httpx.Client(timeout=settings.send_timeout_s)

    def send(self, delivery: Delivery) -> None:
        n = delivery.notification
        text = f"{n['title']} {n['body']}"[:SMS_MAX_CHARS]
        post_delivery(self._client, self._url, {
            "to": delivery.address, "sender": self._sender, "body": text,
            "reference": delivery.delivery_id}, delivery.delivery_id, self._authorization)

    def close(self) -> None:
        self._client.close()
