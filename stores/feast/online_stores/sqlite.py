"""Feast's SQLite online store (the embedded default): one table per feature view,
rows keyed by (serialized entity key, feature name)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Literal

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from pydantic import BaseModel

from fitstream.settings import FitStreamSettings
from stores.feast.online_stores import user_entity_key


class SqliteConfig(BaseModel):
    """The database file (resolved under the state directory) and the Feast project."""

    type: Literal["sqlite"] = "sqlite"
    path: Path
    project: str

    @classmethod
    def from_settings(cls, settings: FitStreamSettings) -> SqliteConfig:
        return cls(path=settings.resolve(settings.feast.sqlite_path),
                   project=settings.feast.project)


class SqliteOnlineStore:
    def _path(self, settings: FitStreamSettings) -> str:
        path = SqliteConfig.from_settings(settings).path
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def config(self, settings: FitStreamSettings) -> dict[str, Any]:
        return {"type": "sqlite", "path": self._path(settings)}

    def erase_user(self, settings: FitStreamSettings, feature_views: list[str],
                   user_id: str) -> int:
        key = serialize_entity_key(user_entity_key(user_id), entity_key_serialization_version=3)
        project = SqliteConfig.from_settings(settings).project
        with sqlite3.connect(self._path(settings)) as conn:
            erased = 0
            for view in feature_views:
                table = compute_table_id(project, _Named(view))
                exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                      "name = ?", (table,)).fetchone()
                if exists:
                    # One row per feature: count the entity once per view.
                    cursor = conn.execute(f'DELETE FROM "{table}" WHERE entity_key = ?', (key,))
                    erased += int(cursor.rowcount > 0)
            return erased


class _Named:
    """compute_table_id wants a feature view; only its name is used."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.current_version_number = None
