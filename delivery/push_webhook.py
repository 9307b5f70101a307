"""Push through a gateway webhook: the gateway maps the user to their device tokens
(APNs/FCM live behind it), so a push is addressed by user id."""

from __future__ import annotations

import httpx

from delivery.http_post import post_delivery
from fitstream.domain.delivery import Delivery
from fitstream.domain.notifications import Channel
from fitstream.settings import NotificationSettings


class PushWebhookChannel:
    channel = Channel.PUSH

    def __init__(self, settings: NotificationSettings) -> None:
        self._url = settings.push_webhook_url
        self._authorization = settings.push_webhook_authorization
        self._client = httpx.Client(timeout=settings.send_timeout_s)

    def send(self, delivery: Delivery) -> None:
        n = delivery.notification
        post_delivery(self._client, self._url, {
            "delivery_id": delivery.delivery_id, "notification_id": n["notification_id"],
            "user_id": delivery.address, "kind": n["kind"], "title": n["title"],
            "body": n["body"], "created_at": n["created_at"]}, delivery.delivery_id,
            self._authorization)

    def close(self) -> None:
        self._client.close()
