"""Run the API process (``fitstream serve``). In the embedded default it also owns chdb,
so it runs the ClickHouse sinks on threads beside the API; in production each role is its
own deployment talking to a ClickHouse server. Putting the API and the sinks in one process
is composition, so it lives here: ``api/`` knows nothing of the sinks.

Lifecycle: the store opens and applies its DDL, one sink thread per view starts,
uvicorn serves; on shutdown uvicorn stops first, then the sinks commit their last
batches, then the publisher flushes and the store closes.
"""

from __future__ import annotations

import sys
import time

import structlog
import uvicorn

from api.app import DefaultSecretRefused, check_token_secret, create_app
from api.event_publisher import EventPublisher
from api.revocations import RevocationFollower, Revocations
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.gc_policy import settle_after_start
from fitstream.settings import FitStreamSettings
from sinks.clickhouse.topic_sink import ViewSinks
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl

log = structlog.get_logger("cli.serve")


# Worker threads (store reads, sinks) hand the GIL back to the event loop after this long;
# Python's default of 5 ms showed up whole in the API's p99.
GIL_SWITCH_INTERVAL_S = 0.0005


def serve(settings: FitStreamSettings, *, ingest: bool = True, reads: bool = True,
          sink: bool = True) -> None:
    try:
        check_token_secret(settings)
    except DefaultSecretRefused as exc:
        log.error("refusing_to_start", reason=str(exc))
        raise SystemExit(f"fitstream serve: {exc}") from exc
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    store = open_store(settings) if (reads or sink) else None
    if store is not None:
        apply_ddl(store)
    publisher = EventPublisher(settings) if ingest else None
    sinks = ViewSinks(settings, store, serde) if sink and store else None
    if sinks is not None:
        sinks.start()
    if publisher is not None:
        publisher.start()
    # Ingest checks device tokens against the revocation topic: read it whole first
    # (bounded; until then device tokens get 503), then follow it.
    revocations = Revocations() if ingest else None
    follower = RevocationFollower(settings, revocations) if revocations else None
    if follower is not None:
        follower.start()
        deadline = time.monotonic() + settings.api.revocations_load_timeout_s
        while not revocations.loaded.wait(0.2) and time.monotonic() < deadline:
            pass
        if not revocations.loaded.is_set():
            log.warning("revocations_not_loaded", waited_s=settings.api.revocations_load_timeout_s)
    app = create_app(settings, serde, store if reads else None, publisher, revocations)
    settle_after_start()
    log.info("serving", host=settings.api.host, port=settings.api.port, ingest=ingest,
             reads=reads, sink=sink, clickhouse=settings.clickhouse.backend)
    try:
        uvicorn.run(app, host=settings.api.host, port=settings.api.port, log_config=None,
                    access_log=False, forwarded_allow_ips=settings.api.forwarded_allow_ips)
    finally:
        if follower is not None:
            follower.stop()
        if sinks is not None:
            sinks.stop()
        if publisher is not None:
            publisher.close()
        if store is not None:
            store.close()
