"""The store interface and the factory that picks a backend from settings.

Each backend module (``stores.clickhouse.chdb``, ``stores.clickhouse.server``) has a
pydantic config built from ``FitStreamSettings.clickhouse`` (``*Config.from_settings``)
and a store built from that config (``*Store.from_config``), as Feast's online stores
pair a ``*OnlineStoreConfig`` with their store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from clickhouse_driver.util.escape import escape_param

from fitstream.settings import FitStreamSettings

Row = dict[str, Any]


class ClickHouseStore(Protocol):
    """What the sinks and the read side need from ClickHouse.

    ``params`` use ``%(name)s`` placeholders, bound client-side with
    clickhouse-driver's escaping, so both backends see identical SQL.
    Implementations are safe to call from several threads.
    """

    database: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, ALTER, OPTIMIZE)."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run a SELECT and return its rows as dicts."""
        ...

    def query_read_only(self, sql: str, limits: Mapping[str, int | str] | None = None,
                        ) -> tuple[list[str], list[tuple]]:
        """Run an analyst's statement with ClickHouse's ``readonly=1``: (column names, rows).

        On a connection of its own, so the setting never reaches the sinks' writes.
        ``limits`` are ClickHouse settings (max_execution_time, max_result_rows...) set
        before readonly=1, so the statement cannot lift them.
        """
        ...

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> int:
        """Insert one columnar batch (column name -> values); returns the row count."""
        ...

    def close(self) -> None: ...


def bind(sql: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return sql
    return sql % {k: escape_param(v, None) for k, v in params.items()}


def open_store(settings: FitStreamSettings) -> ClickHouseStore:
    """The backend ``settings.clickhouse.backend`` names, opened from its config."""
    if settings.clickhouse.backend == "chdb":
        from stores.clickhouse.chdb import ChdbConfig, ChdbStore

        return ChdbStore.from_config(ChdbConfig.from_settings(settings))
    from stores.clickhouse.server import ServerConfig, ServerStore

    return ServerStore.from_config(ServerConfig.from_settings(settings))
