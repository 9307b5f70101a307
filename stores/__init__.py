"""The stores: ClickHouse (the read model), Delta (the lakehouse) and Feast (features).

Each store is an interface plus one module per backend, with a pydantic config each
(the relevant part of the one ``FitStreamSettings``), the way Feast's
``infra/online_stores/`` is built; the SQL the services run lives here too, in one
queries module per store. Stores know the library and ``feature_repo/``, never the
services above them (api, streams, sinks, delivery, jobs).
"""
