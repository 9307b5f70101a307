"""One module per Feast online store backend, behind :class:`OnlineStoreBackend`, each with
a pydantic config built from ``FitStreamSettings.feast`` (``SqliteConfig``,
``RedisConfig``), as Feast's own online stores pair a config with a store.

Feast writes and reads through its own online stores; what Feast does not offer is
deleting an entity (GDPR), so each backend module does that against its store, with the
key encoding Feast uses.
"""

from __future__ import annotations

from typing import Any, Protocol

from fitstream.settings import FitStreamSettings


class OnlineStoreBackend(Protocol):
    def config(self, settings: FitStreamSettings) -> dict[str, Any]:
        """The ``online_store`` section of Feast's RepoConfig."""
        ...

    def erase_user(self, settings: FitStreamSettings, feature_views: list[str],
                   user_id: str) -> int:
        """Delete the user's online rows of these views; returns how many were there."""
        ...


def online_store_backend(settings: FitStreamSettings) -> OnlineStoreBackend:
    if settings.feast.online_store == "redis":
        from stores.feast.online_stores.redis import RedisOnlineStore
        return RedisOnlineStore()
    from stores.feast.online_stores.sqlite import SqliteOnlineStore
    return SqliteOnlineStore()


def user_entity_key(user_id: str) -> Any:
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user_id)])
