"""Feast's Redis online store (production): one hash per (project, entity key), with a
field per feature of every view."""

from __future__ import annotations

from typing import Any

import redis
from feast.infra.online_stores.helpers import _redis_key

from fitstream.settings import FitStreamSettings
from stores.feast.online_stores import user_entity_key


class RedisOnlineStore:
    def config(self, settings: FitStreamSettings) -> dict[str, Any]:
        return {"type": "redis",
                "connection_string": settings.feast.redis_connection()}

    def _client(self, settings: FitStreamSettings) -> redis.Redis:
        host_port, *options = settings.feast.redis_connection().split(",")
        host, _, port = host_port.partition(":")
        kwargs = dict(option.split("=", 1) for option in options)
        return redis.Redis(host=host, port=int(port or 6379), db=int(kwargs.get("db", 0)),
                           password=kwargs.get("password"))

    def erase_user(self, settings: FitStreamSettings, feature_views: list[str],
                   user_id: str) -> int:
        # The hash holds every view's features for the user: deleting it erases them all.
        key = _redis_key(settings.feast.project, user_entity_key(user_id), 3)
        return int(self._client(settings).delete(key)) * len(feature_views)
