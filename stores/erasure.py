"""Erasing one user from every store, through each store's own interface.

- Delta (every lakehouse table, ``stores.delta.tables.ALL_TABLES``): ``DELETE`` by
  ``user_id`` (the dead-letter table by its Kafka key, which is the user id), then
  ``VACUUM`` with no retention, so the deleted rows' old files are gone from storage,
  not only from the current version. A sink killed between writing a Parquet file and
  committing it leaves an orphan no version references, which VACUUM keeps; on a local
  lakehouse the orphans older than :data:`ORPHAN_GRACE_S` that hold the user are deleted
  too (a younger one may be a live sink's write about to commit). On object storage
  orphans go with ``fitstream jobs compact`` (a full vacuum after its retention).
- ClickHouse (every view table, the notification inbox and its reads, deliveries and
  preferences included): ``ALTER TABLE … DELETE``, a mutation, waited for until the
  user's rows read 0. The caller passes the store: with embedded chdb only the process
  that owns it can (the API, ``POST /api/v1/admin/users/{id}/clickhouse-erasure``).
- The Feast online store (SQLite or Redis): the user's entity row of every feature view
  (the offline features are the Delta table ``features.user_features``, above).

Used by ``fitstream jobs gdpr-erase`` (jobs/gdpr_erase.py, which first publishes the
erasure event and waits for the processor and the sinks) and by the API's admin erase.
The user id is checked against the one id pattern first; Delta predicates quote through
``fitstream.privacy.predicates``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq

from fitstream.domain.identifiers import check_id
from fitstream.privacy.predicates import delta_equals
from fitstream.settings import FitStreamSettings
from stores.clickhouse import queries
from stores.clickhouse.store import ClickHouseStore
from stores.delta.lakehouse import DeltaTables
from stores.delta.tables import ALL_TABLES, BRONZE_DEAD_LETTERS

MUTATION_TIMEOUT_S = 120
# A sink writes a Parquet file and commits it within seconds of each other.
ORPHAN_GRACE_S = 60


def erase_from_delta(settings: FitStreamSettings, user_id: str) -> dict[str, int]:
    """Delete ``user_id``'s rows from every lakehouse table and vacuum the old files.

    The id is checked against the one id pattern first, and the predicate's literal is
    built by ``delta_string_literal`` (quotes doubled, as DataFusion reads them): an id
    such as ``' OR 1=1 --`` once turned this delete into one of every row."""
    check_id("user_id", user_id)
    tables = DeltaTables(settings)
    deleted = {}
    for name in ALL_TABLES:
        if not tables.exists(name):
            continue
        predicate = (f"key = X'{user_id.encode().hex()}'" if name == BRONZE_DEAD_LETTERS
                     else delta_equals("user_id", user_id))
        deleted[name] = tables.open(name).delete(predicate)["num_deleted_rows"]
        if deleted[name]:
            tables.open(name).vacuum(retention_hours=0, dry_run=False,
                                     enforce_retention_duration=False)
        _delete_orphans_holding(settings.lakehouse_uri(name),
                                tables.open(name).file_uris(), user_id)
    return deleted


def _delete_orphans_holding(uri: str, referenced: list[str], user_id: str) -> list[Path]:
    """Delete the Parquet files under a local table directory that the current version
    does not reference, are older than the grace period, and hold ``user_id`` (by
    ``user_id`` or ``key``)."""
    root = Path(uri)
    if "://" in uri or not root.is_dir():
        return []
    kept = {Path(u.removeprefix("file://")).resolve() for u in referenced}
    now, gone = time.time(), []
    for path in root.rglob("*.parquet"):
        if path.resolve() in kept or now - path.stat().st_mtime < ORPHAN_GRACE_S:
            continue
        columns = pq.read_schema(path).names
        table = pq.read_table(path, columns=[c for c in ("user_id", "key") if c in columns])
        if (("user_id" in columns and user_id in table.column("user_id").to_pylist())
                or ("key" in columns and user_id.encode() in table.column("key").to_pylist())):
            path.unlink()
            gone.append(path)
    return gone


def erase_from_feast(settings: FitStreamSettings, user_id: str) -> dict[str, int]:
    """Delete the user's online rows of every feature view; per view, how many there were."""
    from feature_repo.definitions import FEATURE_VIEW
    from stores.feast.online_stores import online_store_backend

    return {FEATURE_VIEW: online_store_backend(settings).erase_user(
        settings, [FEATURE_VIEW], user_id)}


def erase_from_clickhouse(store: ClickHouseStore, user_id: str,
                          timeout_s: float = MUTATION_TIMEOUT_S) -> dict[str, int]:
    """Delete the user from every view table and wait until their rows read 0; per table,
    the user's rows before the delete. RuntimeError if a delete outlasts ``timeout_s``.
    The id is bound as a parameter, never put into the SQL text."""
    counts = queries.user_row_counts(store, user_id)
    for table, rows in counts.items():
        if rows:
            queries.delete_user_rows(store, table, user_id)
    deadline = time.monotonic() + timeout_s
    for table, rows in counts.items():
        # Mutations run in the background on a server (18.16 cannot wait for them).
        while rows and queries.user_rows(store, table, user_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the delete on {table} did not finish in time")
            time.sleep(0.2)
    return counts
