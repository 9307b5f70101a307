"""Publishing accepted events to the log, acknowledged by Kafka before HTTP answers.

Lifecycle: :meth:`EventPublisher.start` starts a thread that serves delivery
reports; :meth:`publish` returns once every record of the batch is acknowledged
(``acks=all``) or raises :class:`BrokerUnavailable`; :meth:`close` flushes.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from confluent_kafka import Producer

from fitstream.kafka.clients import producer_config
from fitstream.observability import tracing
from fitstream.settings import FitStreamSettings


class BrokerUnavailable(RuntimeError):
    pass


class EventPublisher:
    def __init__(self, settings: FitStreamSettings) -> None:
        timeout_ms = int(settings.api.ingest_ack_timeout_s * 1000)
        self._producer = Producer(producer_config(
            settings.kafka, delivery_timeout_ms=timeout_ms, **{"linger.ms": 2}))
        self._topic = settings.kafka.events_topic
        self._timeout_s = settings.api.ingest_ack_timeout_s + 1
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._serve_reports, name="ingest-delivery",
                                        daemon=True)

    def start(self) -> None:
        self._running.set()
        self._thread.start()

    def _serve_reports(self) -> None:
        while self._running.is_set():
            self._producer.poll(0.1)

    async def publish(self, records: list[tuple[bytes, bytes]], topic: str | None = None,
                      ) -> None:
        """Produce (key, value) records to ``topic`` (the events topic by default), each
        with the current trace's ``traceparent`` header if there is one."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        outstanding = len(records)
        errors: list[str] = []
        lock = threading.Lock()

        def on_delivery(err: Any, _msg: Any) -> None:
            nonlocal outstanding
            with lock:
                if err is not None:
                    errors.append(str(err))
                outstanding -= 1
                finished = outstanding == 0
            if finished:
                loop.call_soon_threadsafe(_resolve)

        def _resolve() -> None:
            if not done.done():
                done.set_result(None)

        topic = topic or self._topic
        with tracing.producer_span(topic, len(records)):
            # The request's trace (api/app.py TraceIdMiddleware) rides on every record:
            # one validated traceparent for the batch, nothing when there is no trace.
            traced = {"headers": headers} if (headers := tracing.headers_of()) else {}
            try:
                for key, value in records:
                    self._producer.produce(topic, key=key, value=value,
                                           on_delivery=on_delivery, **traced)
            except BufferError as exc:
                raise BrokerUnavailable("the producer queue is full; retry later") from exc
        try:
            await asyncio.wait_for(asyncio.shield(done), self._timeout_s)
        except TimeoutError as exc:
            raise BrokerUnavailable("Kafka did not acknowledge the records in time") from exc
        if errors:
            raise BrokerUnavailable(f"Kafka refused {len(errors)} records: {errors[0]}")

    def close(self) -> None:
        self._running.clear()
        if self._thread.is_alive():
            self._thread.join()
        self._producer.flush(5)
        # Drop librdkafka's handle now: a closed publisher must stop reconnecting.
        del self._producer
