"""Revoked device tokens: a compacted topic that every ingest-serving API process follows.

Device tokens live long (a watch cannot sign in every day), so a lost or stolen device
is cut off by revocation rather than by expiry. ``fitstream devices revoke`` produces
one record per revocation to ``kafka.device_revocations_topic``:

* key ``jti:<jti>``: that one token is revoked;
* key ``device:<user_id>/<device_id>``: every token of that user's device issued at or
  before ``revoked_at`` is revoked (a token issued afterwards works again). Device ids are
  chosen by devices, so two users' watches may share one: the key names the user too, and
  ``/`` is outside the id pattern (``:`` is not), so no two pairs share a key. A key of
  the earlier form ``device:<device_id>`` is ignored with a warning: it cannot say whose;
* value: JSON ``{"revoked_at": <ms>, "reason": "..."}``; a tombstone (no value) lifts
  the revocation. A record whose value cannot be read is skipped with a warning: one
  bad record must not stop the follower (device tokens would get 503 forever).

The topic is compacted by key, so it stays as small as the set of revocations. Each
API process reads it whole at start (device tokens get 503 until it has: fail closed)
and then follows it, so a revocation takes effect within a poll interval.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.settings import FitStreamSettings
from fitstream.tokens import DeviceIdentity

log = structlog.get_logger("api.revocations")


def jti_key(jti: str) -> bytes:
    return f"jti:{jti}".encode()


def device_key(user_id: str, device_id: str) -> bytes:
    return f"device:{user_id}/{device_id}".encode()


class Revocations:
    """What the revocation topic says so far; thread-safe enough for one writer (the
    follower) and many readers (sets and dicts are swapped whole)."""

    def __init__(self) -> None:
        self._jtis: frozenset[str] = frozenset()
        self._devices: dict[str, int] = {}
        self.loaded = threading.Event()

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        kind, _, ident = (key or b"").decode(errors="replace").partition(":")
        if kind not in ("jti", "device") or not ident or (kind == "device" and "/" not in ident):
            log.warning("revocation_ignored", key=key)
            return
        if kind == "jti":
            self._jtis = self._jtis - {ident} if value is None else self._jtis | {ident}
            return
        devices = dict(self._devices)
        if value is None:
            devices.pop(ident, None)
        else:
            try:
                revoked_at = json.loads(value)["revoked_at"]
                if isinstance(revoked_at, bool) or not isinstance(revoked_at, int | float):
                    raise TypeError(f"revoked_at is {type(revoked_at).__name__}")
                devices[ident] = int(revoked_at)
            except (ValueError, KeyError, TypeError, OverflowError) as exc:
                log.warning("revocation_malformed", key=key, error=str(exc)[:200])
                return
        self._devices = devices

    def is_revoked(self, device: DeviceIdentity) -> bool:
        if device.jti in self._jtis:
            return True
        revoked_at_ms = self._devices.get(f"{device.user_id}/{device.device_id}")
        return revoked_at_ms is not None and device.issued_at_s * 1000 <= revoked_at_ms


class RevocationFollower:
    """A thread that reads the revocation topic from its start into a :class:`Revocations`
    and follows it. No consumer group offsets: every process reads everything."""

    def __init__(self, settings: FitStreamSettings, revocations: Revocations,
                 poll_s: float = 0.2) -> None:
        self._kafka = settings.kafka
        self._topic = settings.kafka.device_revocations_topic
        self._revocations = revocations
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="device-revocations",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception:  # the broker may be down at start: try again, stay closed
                log.exception("revocation_follower_failed")
                self._stop.wait(2)

    def _follow(self) -> None:
        consumer = Consumer(consumer_config(
            self._kafka, f"fitstream-api-revocations-{uuid.uuid4().hex}",
            **{"fetch.queue.backoff.ms": 100, "queued.min.messages": 1}))
        try:
            partitions = consumer.list_topics(self._topic, timeout=10).topics[self._topic]
            if partitions.error is not None:
                raise RuntimeError(f"{self._topic}: {partitions.error}")
            ends = {p: consumer.get_watermark_offsets(TopicPartition(self._topic, p),
                                                      timeout=10)[1]
                    for p in partitions.partitions}
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in ends])
            behind = {p for p, end in ends.items() if end > 0}
            if not behind:
                self._revocations.loaded.set()
            while not self._stop.is_set():
                messages = consumer.consume(1000, timeout=self._poll_s)
                for message in messages:
                    if message.error():
                        continue
                    try:
                        self._revocations.apply(message.key(), message.value())
                    except Exception:  # one bad record must not stop the follower
                        log.exception("revocation_skipped", offset=message.offset())
                    if message.offset() + 1 >= ends.get(message.partition(), 0):
                        behind.discard(message.partition())
                if not behind and not self._revocations.loaded.is_set():
                    self._revocations.loaded.set()
                    log.info("revocations_loaded", topic=self._topic)
                if not messages:
                    idle_pause(consumer, self._kafka.emulate_long_poll_ms, self._stop)
        finally:
            consumer.close()


def publish_revocation(settings: FitStreamSettings, key: bytes, revoked: bool = True,
                       reason: str = "", timeout_s: float = 30.0) -> dict[str, Any]:
    """Produce one revocation (or, with ``revoked=False``, its tombstone) and wait for the
    broker's acknowledgement; RuntimeError if it does not come."""
    value = {"revoked_at": int(time.time() * 1000), "reason": reason}
    producer = Producer(producer_config(settings.kafka))
    outcome: list[Any] = []
    producer.produce(settings.kafka.device_revocations_topic, key=key,
                     value=json.dumps(value).encode() if revoked else None,
                     on_delivery=lambda err, _msg: outcome.append(err))
    producer.flush(timeout_s)
    if not outcome or outcome[0] is not None:
        raise RuntimeError(f"revocation not acknowledged: {outcome[0] if outcome else 'timeout'}")
    return value
