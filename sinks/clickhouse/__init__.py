"""The ClickHouse view sinks: one topic sink per view table (the tables and the store
they write to are in ``stores/clickhouse``)."""
