"""The pipeline core's state port over Faust tables."""

from __future__ import annotations

from typing import Any

import orjson


class TableState:
    """The pipeline's :class:`~fitstream.domain.pipeline.KeyedState` over Faust tables
    of orjson-encoded state, keyed by UTF-8 keys."""

    def __init__(self, tables: dict[str, Any]) -> None:
        self.tables = tables

    def get(self, store: str, key: str) -> dict[str, Any] | None:
        stored = self.tables[store].get(key.encode())
        return orjson.loads(stored) if stored is not None else None

    def write(self, snapshot: dict[tuple[str, str], dict[str, Any] | None]) -> None:
        """Each key once: a table write is a changelog record."""
        for (store, key), state in snapshot.items():
            table = self.tables[store]
            if state is None:
                table.pop(key.encode(), None)
            else:
                table[key.encode()] = orjson.dumps(state)
