"""Send a simulated fleet's records to the events topic, as devices would through ingest."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Producer

from fitstream.contracts import AvroSerde
from fitstream.domain.events import event_subject
from fitstream.kafka.clients import producer_config
from fitstream.privacy.coordinates import seal_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings
from fitstream.simulator.fleet import FleetSpec, FleetTally, simulate_fleet

ProgressCallback = Callable[[FleetTally], None]
"""Called every few thousand records with the running tally."""


class DeliveryFailed(RuntimeError):
    pass


def produce_fleet(settings: FitStreamSettings, spec: FleetSpec, serde: AvroSerde,
                  rate: float | None = None, on_progress: ProgressCallback | None = None,
                  seal: bool = True) -> FleetTally:
    """Produce every record in delivery order; returns once all are acknowledged.

    ``rate`` caps records per second (None: as fast as the broker takes them).
    Raises DeliveryFailed if any record could not be delivered. Coordinates are sealed
    with each user's data key, as ingest seals them (``seal=False``: plain, as a trusted
    producer writing straight to Kafka may; the benchmarks compare the two).
    """
    producer = Producer(producer_config(settings.kafka))
    cipher = FieldCipher(key_store(settings))
    topic = settings.kafka.events_topic
    tally = FleetTally()
    failures: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    started = time.monotonic()
    for n, record in enumerate(simulate_fleet(spec, tally), 1):
        if record.event is None:
            value = record.raw
        else:
            subject = event_subject(record.event)
            event = seal_coordinates(cipher, subject, record.event) if seal else record.event
            value = serde.encode(subject, event)
        while True:
            try:
                producer.produce(topic, key=record.key.encode(), value=value,
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if rate:
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if on_progress and n % 2000 == 0:
            on_progress(tally)
    remaining = producer.flush(60)
    if on_progress:
        on_progress(tally)
    if remaining or failures:
        raise DeliveryFailed(f"{remaining} undelivered, {len(failures)} failed: {failures[:3]}")
    return tally
