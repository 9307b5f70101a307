"""Embedded ClickHouse (chdb). Only one process may open a data directory, so the
process that owns it serves every reader and writer of the embedded deployment."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import chdb
import pyarrow as pa
from pydantic import BaseModel

from fitstream.settings import FitStreamSettings
from stores.clickhouse.store import Row, bind


def _typed(values: list[Any]) -> pa.Array:
    """An Arrow column. Lists that are all empty have Arrow's null item type, which chdb
    cannot convert to an Array column (a PUT of preferences with no channels was a 500):
    they are typed as lists of strings."""
    column = pa.array(values)
    if pa.types.is_list(column.type) and pa.types.is_null(column.type.value_type):
        return column.cast(pa.list_(pa.string()))
    return column


class ChdbConfig(BaseModel):
    """The embedded store: a data directory (resolved under the state directory) and the
    database that holds the views."""

    type: Literal["chdb"] = "chdb"
    path: Path
    database: str

    @classmethod
    def from_settings(cls, settings: FitStreamSettings) -> ChdbConfig:
        ch = settings.clickhouse
        return cls(path=settings.resolve(ch.chdb_path), database=ch.database)


class ChdbStore:
    @classmethod
    def from_config(cls, config: ChdbConfig) -> ChdbStore:
        return cls(config.path, config.database)

    def __init__(self, path: Path, database: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.database = database
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._conn().query(f"CREATE DATABASE IF NOT EXISTS {database}")
        self._read_only: Any = None
        self._read_only_limits: dict[str, int | str] = {}
        self._read_only_lock = threading.Lock()

    def _conn(self) -> Any:
        # chdb connections may not be shared between threads; one per thread is fine.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = chdb.connect(str(self.path))
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._conn().query(bind(sql, params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._conn().query(bind(sql, params), "ArrowTable").to_pylist()

    def query_read_only(self, sql: str, limits: Mapping[str, int | str] | None = None,
                        ) -> tuple[list[str], list[tuple]]:
        with self._read_only_lock:
            if self._read_only is not None and dict(limits or {}) != self._read_only_limits:
                self._drop_read_only()
            if self._read_only is None:
                conn = chdb.connect(str(self.path))
                conn.query(f"USE {self.database}")
                for name, value in (limits or {}).items():
                    conn.query(f"SET {name} = {bind('%(v)s', {'v': value})}")
                conn.query("SET readonly = 1")
                self._read_only, self._read_only_limits = conn, dict(limits or {})
                with self._lock:
                    self._connections.append(conn)
            try:
                table = self._read_only.query(sql, "ArrowTable")
            except Exception:
                # A statement stopped mid-result (a limit) leaves the connection's output
                # half-read: the next statement on it failed. Start the next one afresh.
                self._drop_read_only()
                raise
        return table.column_names, [tuple(r.values()) for r in table.to_pylist()]

    def _drop_read_only(self) -> None:
        conn, self._read_only = self._read_only, None
        with self._lock:
            self._connections.remove(conn)
        conn.close()

    def insert(self, table: str, columns: Mapping[str, Sequence[Any]]) -> int:
        batch = pa.table({name: _typed(list(values)) for name, values in columns.items()})
        if batch.num_rows:
            names = ", ".join(columns)
            # chdb's Python() table function reads the local variable named here.
            self._conn().query(
                f"INSERT INTO {self.database}.{table} ({names}) SELECT {names} FROM Python(batch)")
        return batch.num_rows

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._read_only = None
