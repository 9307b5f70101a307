"""Feast's Redis online store (production): one hash per (project, entity key), with a
field per feature of every view."""

from __future__ import annotations

from typing import Any, Literal

import redis
from feast.infra.online_stores.helpers import _redis_key
from pydantic import BaseModel, SecretStr

from fitstream.settings import FitStreamSettings
from stores.feast.online_stores import user_entity_key


class RedisConfig(BaseModel):
    """Feast's ``connection_string`` (host:port[,db=N,ssl=true], the password added from
    its secret) and the Feast project."""

    type: Literal["redis"] = "redis"
    connection_string: SecretStr
    project: str

    @classmethod
    def from_settings(cls, settings: FitStreamSettings) -> RedisConfig:
        return cls(connection_string=SecretStr(settings.feast.redis_connection()),
                   project=settings.feast.project)


class RedisOnlineStore:
    def config(self, settings: FitStreamSettings) -> dict[str, Any]:
        return {"type": "redis", "connection_string":
                RedisConfig.from_settings(settings).connection_string.get_secret_value()}

    def _client(self, config: RedisConfig) -> redis.Redis:
        host_port, *options = config.connection_string.get_secret_value().split(",")
        host, _, port = host_port.partition(":")
        kwargs = dict(option.split("=", 1) for option in options)
        return redis.Redis(host=host, port=int(port or 6379), db=int(kwargs.get("db", 0)),
                           password=kwargs.get("password"))

    def erase_user(self, settings: FitStreamSettings, feature_views: list[str],
                   user_id: str) -> int:
        # The hash holds every view's features for the user: deleting it erases them all.
        config = RedisConfig.from_settings(settings)
        key = _redis_key(config.project, user_entity_key(user_id), 3)
        return int(self._client(config).delete(key)) * len(feature_views)
