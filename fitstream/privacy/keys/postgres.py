"""The PostgreSQL key store (production): ``user_data_keys(user_id PRIMARY KEY, data_key,
created_at)``, created on first use.

Concurrent creators agree through the primary key (``INSERT … ON CONFLICT DO
NOTHING``, then read what is there). Every statement binds its values as parameters.
The password is a secret in the settings, never part of a printed connection string.
"""

from __future__ import annotations

import secrets
import threading

from fitstream.domain.identifiers import check_id
from fitstream.privacy.keys import DATA_KEY_BYTES
from fitstream.settings import PostgresKeyStoreConfig


class PostgresKeyStore:
    def __init__(self, config: PostgresKeyStoreConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._conn = None

    def _connection(self):  # psycopg is imported on first use
        import psycopg

        if self._conn is None or self._conn.closed:
            c = self.config
            self._conn = psycopg.connect(
                host=c.host, port=c.port, dbname=c.database, user=c.user,
                password=c.password.get_secret_value() or None,
                connect_timeout=c.connect_timeout_s, autocommit=True)
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {c.table} (user_id text PRIMARY KEY,"
                " data_key bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        return self._conn

    def get(self, user_id: str) -> bytes | None:
        check_id("user_id", user_id)
        with self._lock:
            row = self._connection().execute(
                f"SELECT data_key FROM {self.config.table} WHERE user_id = %s",
                (user_id,)).fetchone()
        return bytes(row[0]) if row else None

    def get_or_create(self, user_id: str) -> bytes:
        check_id("user_id", user_id)
        with self._lock:
            conn = self._connection()
            conn.execute(f"INSERT INTO {self.config.table} (user_id, data_key) VALUES (%s, %s)"
                         " ON CONFLICT (user_id) DO NOTHING",
                         (user_id, secrets.token_bytes(DATA_KEY_BYTES)))
            row = conn.execute(f"SELECT data_key FROM {self.config.table} WHERE user_id = %s",
                               (user_id,)).fetchone()
        if row is None:  # an erase deleted it between the two statements
            raise KeyError(f"the key of {user_id} was deleted while it was created")
        return bytes(row[0])

    def delete(self, user_id: str) -> bool:
        check_id("user_id", user_id)
        with self._lock:
            row = self._connection().execute(
                f"DELETE FROM {self.config.table} WHERE user_id = %s RETURNING user_id",
                (user_id,)).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
