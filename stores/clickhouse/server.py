"""A ClickHouse server through clickhouse-driver's native protocol."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from clickhouse_driver import Client
from pydantic import BaseModel, SecretStr

from fitstream.settings import FitStreamSettings
from stores.clickhouse.store import Row, bind


class ServerConfig(BaseModel):
    """A ClickHouse server's native-protocol endpoint, credentials and views database."""

    type: Literal["server"] = "server"
    host: str
    port: int
    user: str
    password: SecretStr
    database: str

    @classmethod
    def from_settings(cls, settings: FitStreamSettings) -> ServerConfig:
        ch = settings.clickhouse
        return cls(host=ch.host, port=ch.port, user=ch.user, password=ch.password,
                   database=ch.database)


class ServerStore:
    @classmethod
    def from_config(cls, config: ServerConfig) -> ServerStore:
        return cls(config.host, config.port, config.user, config.password.get_secret_value(),
                   config.database)

    def __init__(self, host: str, port: int, user: str, password: str, database: str) -> None:
        self.database = database
        self._params = {"host": host, "port": port, "user": user, "password": password,
                        "connect_timeout": 5, "send_receive_timeout": 60}
        self._local = threading.local()
        self._client().execute(f"CREATE DATABASE IF NOT EXISTS {database}")

    def _client(self) -> Client:
        # A driver Client holds one connection and is not thread-safe.
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(**self._params)
            self._local.client = client
        return client

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._client().execute(bind(sql, params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        rows, columns = self._client().execute(bind(sql, params), with_column_types=True)
        names = [name for name, _ in columns]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def query_read_only(self, sql: str, limits: Mapping[str, int | str] | None = None,
                        ) -> tuple[list[str], list[tuple]]:
        # A fresh client per statement: readonly is a per-query setting of the driver. The
        # limits go first: once readonly=1 is applied, no setting may change.
        client = Client(**self._params, database=self.database,
                        settings={**(limits or {}), "readonly": 1})
        try:
            rows, columns = client.execute(sql, with_column_types=True)
        finally:
            client.disconnect()
        return [name for name, _ in columns], [tuple(row) for row in rows]

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> int:
        data = [list(values) for values in columns.values()]
        rows = len(data[0]) if data else 0
        if rows:
            # Rows go as parameters: inline VALUES text hangs on 18.16 through the driver.
            self._client().execute(
                f"INSERT INTO {self.database}.{table} ({', '.join(columns)}) VALUES",
                data, columnar=True)
        return rows

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.disconnect()
        self._local = threading.local()
