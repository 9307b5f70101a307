"""Run the API process. In the embedded default it also owns chdb, so it runs the
ClickHouse sink on a thread beside the API; in production each role is its own
deployment talking to a ClickHouse server.

Lifecycle: the store opens and applies its DDL, the sink thread starts, uvicorn
serves; on shutdown uvicorn stops first, then the sink commits its last batch,
then the publisher flushes and the store closes.
"""

from __future__ import annotations

import threading

import structlog
import uvicorn

from api.app import create_app
from api.event_publisher import EventPublisher
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.schema import apply_ddl
from sinks.clickhouse.store import open_store
from sinks.clickhouse.summary_sink import WorkoutSummarySink

log = structlog.get_logger("api.serve")


def serve(settings: FitStreamSettings, *, ingest: bool = True, reads: bool = True,
          sink: bool = True) -> None:
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    store = open_store(settings) if (reads or sink) else None
    if store is not None:
        apply_ddl(store)
    publisher = EventPublisher(settings) if ingest else None
    summary_sink = WorkoutSummarySink(settings, store, serde) if sink and store else None
    sink_thread = None
    if summary_sink is not None:
        sink_thread = threading.Thread(target=summary_sink.run, name="clickhouse-sink",
                                       daemon=True)
        sink_thread.start()
    if publisher is not None:
        publisher.start()
    app = create_app(settings, serde, store if reads else None, publisher)
    log.info("serving", host=settings.api.host, port=settings.api.port, ingest=ingest,
             reads=reads, sink=sink, clickhouse=settings.clickhouse.backend)
    try:
        uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_config=None,
                    access_log=False)
    finally:
        if summary_sink is not None and sink_thread is not None:
            summary_sink.stop()
            sink_thread.join(timeout=30)
        if publisher is not None:
            publisher.close()
        if store is not None:
            store.close()


def run_sink(settings: FitStreamSettings) -> None:
    """The ClickHouse sink alone (production: a separate deployment)."""
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    store = open_store(settings)
    apply_ddl(store)
    summary_sink = WorkoutSummarySink(settings, store, serde)
    try:
        summary_sink.run()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
