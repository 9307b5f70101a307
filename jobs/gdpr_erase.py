"""``fitstream jobs gdpr-erase --user U``: delete one user from every store the views live
in, and count what was deleted per store and table.

- Delta (every lakehouse table): ``DELETE`` by ``user_id`` (the dead-letter table by its
  Kafka key, which is the user id), then ``VACUUM`` with no retention, so the deleted
  rows' old files are gone from storage, not only from the current version.
- ClickHouse (every view table, the notification inbox and its reads, deliveries and
  preferences included): ``ALTER TABLE … DELETE``, a mutation, waited for until the
  user's rows read 0.
- The Feast online store (SQLite or Redis): the user's entity row of every feature view
  (the offline features are the Delta table ``features.user_features``, above).

Not the Kafka log: it is the system of record, and a replay would bring the user back.
The decision for the log is crypto-shredding (personal fields encrypted with a per-user
key kept outside Kafka; erasing deletes the key), because rewriting topics moves the
offsets every sink's exactly-once bookkeeping depends on. It is not built yet; the report
says the log is kept.
"""

from __future__ import annotations

import time
from typing import Any

from deltalake import DeltaTable

from fitstream.domain.identifiers import check_id
from fitstream.privacy.predicates import delta_equals
from fitstream.settings import FitStreamSettings
from jobs.compact import TABLES
from sinks.clickhouse.store import ClickHouseStore
from sinks.clickhouse.tables import view_tables
from sinks.delta.tables import BRONZE_DEAD_LETTERS

MUTATION_TIMEOUT_S = 120


def erase_from_delta(settings: FitStreamSettings, user_id: str) -> dict[str, int]:
    """Delete ``user_id``'s rows from every lakehouse table and vacuum the old files.

    The id is checked against the one id pattern first, and the predicate's literal is
    built by ``delta_string_literal`` (quotes doubled, as DataFusion reads them): an id
    such as ``' OR 1=1 --`` once turned this delete into one of every row."""
    check_id("user_id", user_id)
    options = settings.lakehouse.storage_options or None
    deleted = {}
    for name in TABLES:
        uri = settings.lakehouse_uri(name)
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            continue
        table = DeltaTable(uri, storage_options=options)
        predicate = (f"key = X'{user_id.encode().hex()}'" if name == BRONZE_DEAD_LETTERS
                     else delta_equals("user_id", user_id))
        deleted[name] = table.delete(predicate)["num_deleted_rows"]
        if deleted[name]:
            DeltaTable(uri, storage_options=options).vacuum(
                retention_hours=0, dry_run=False, enforce_retention_duration=False)
    return deleted


def erase_from_feast(settings: FitStreamSettings, user_id: str) -> dict[str, int]:
    from feature_repo.definitions import FEATURE_VIEW
    from sinks.feast.online_stores import online_store_backend

    return {FEATURE_VIEW: online_store_backend(settings).erase_user(
        settings, [FEATURE_VIEW], user_id)}


def erase_from_clickhouse(settings: FitStreamSettings, store: ClickHouseStore,
                          user_id: str) -> dict[str, int]:
    db = store.database
    tables = sorted({view.table for view in view_tables(settings)})
    counts = {t: store.query(f"SELECT count() AS n FROM {db}.{t} WHERE user_id = %(u)s",
                             {"u": user_id})[0]["n"] for t in tables}
    for table, rows in counts.items():
        if rows:
            store.execute(f"ALTER TABLE {db}.{table} DELETE WHERE user_id = %(u)s",
                          {"u": user_id})
    deadline = time.monotonic() + MUTATION_TIMEOUT_S
    for table, rows in counts.items():
        # Mutations run in the background on a server (18.16 cannot wait for them).
        while rows and store.query(f"SELECT count() AS n FROM {db}.{table} WHERE user_id ="
                                   " %(u)s", {"u": user_id})[0]["n"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the delete on {table} did not finish in time")
            time.sleep(0.2)
    return counts


def erase_user(settings: FitStreamSettings, store: ClickHouseStore,
               user_id: str) -> dict[str, Any]:
    check_id("user_id", user_id)  # before any store is touched
    return {"delta": erase_from_delta(settings, user_id),
            "clickhouse": erase_from_clickhouse(settings, store, user_id),
            "feast online": erase_from_feast(settings, user_id),
            "kafka log": "kept: the system of record (see the module docstring)"}
