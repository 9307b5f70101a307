"""ClickHouse: the serving and analyst store.

One interface (:class:`ClickHouseStore`), two backends: embedded ``chdb`` and a
real server through ``clickhouse-driver``. The project's SQL stays in the subset
that both ClickHouse 18.16 and current releases accept.
"""

from sinks.clickhouse.store import ClickHouseStore, open_store

__all__ = ["ClickHouseStore", "open_store"]
