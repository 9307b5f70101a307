"""ClickHouse: the serving and analyst store.

One interface (:class:`stores.clickhouse.store.ClickHouseStore`, ``open_store``), one
module per backend (``chdb``: embedded; ``server``: a real server through
``clickhouse-driver``), the view tables (``tables``) and every query the API runs
(``queries``). The project's SQL stays in the subset that both ClickHouse 18.16 and
current releases accept.
"""
