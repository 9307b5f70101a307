"""librdkafka configurations built from settings, so every client agrees on the broker."""

from __future__ import annotations

from typing import Any

from fitstream.settings import KafkaSettings


def base_config(kafka: KafkaSettings) -> dict[str, Any]:
    return {"bootstrap.servers": kafka.bootstrap_servers, **kafka.client_overrides}


def producer_config(kafka: KafkaSettings, *, delivery_timeout_ms: int = 30_000,
                    **extra: Any) -> dict[str, Any]:
    """An idempotent producer that waits for all in-sync replicas."""
    return {
        **base_config(kafka),
        "enable.idempotence": True,
        # Java-compatible key hashing, so every client puts a user on the same partition.
        "partitioner": "murmur2_random",
        "acks": "all",
        "linger.ms": 20,
        "compression.type": "none",
        "message.timeout.ms": delivery_timeout_ms,
        **extra,
    }


def consumer_config(kafka: KafkaSettings, group_id: str, **extra: Any) -> dict[str, Any]:
    return {
        **base_config(kafka),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        **extra,
    }
