"""The delivery worker: ``notifications.v1`` in; sends through each user's channels; an
outcome per delivery on ``notifications.deliveries.v1``; failures for good on
``notifications.dlq.v1``.

Lifecycle:

- :meth:`DeliveryWorker.run` first reads the preferences topic to its end (and
  keeps following it on a thread), and the deliveries topic to its end: that
  ledger holds every delivery already finished, so a notification seen again
  (a duplicate, a replay, a restart before the offset commit) is not re-sent.
- Each configured channel has its own :class:`ChannelLane`: a thread with a
  queue and a retry schedule, so a slow or failing channel never holds up the
  others. A failed send is retried with backoff (:class:`RetryPolicy`), then
  dead-lettered; a permanent failure is dead-lettered at once.
- An offset is committed only when every delivery of its notification has an
  outcome, and only after the producer flushed those outcomes. A crash between a
  send and its outcome sends once more: delivery is at least once, and every
  send carries the delivery id as its idempotency key.

Why its own consumer loop and not :class:`fitstream.kafka.sink_runner.SinkRunner`:
this is a service, not a store writer. The runner's contract is "a batch is done when
``write`` returns, then its end offsets may be committed"; here a notification is done
only when every channel lane has an outcome for it, which can be minutes and many
retries later, on other threads, out of order across channels. Its commit position is
the lowest unfinished notification (:class:`OffsetTracker`), after a producer flush of
the outcomes, and a channel failing must never rewind the topic (that would re-send
what other channels delivered). Forcing that through the runner would need a ``write``
that never fails and a hook replacing the runner's commit rule, i.e. the runner minus
everything it owns; the loop below is ~30 lines and shares the runner's pieces that do
fit (the consumer config and the idle pause).
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from delivery.channel import DeliveryFailed, NotificationChannel, configured_channels
from delivery.ledger import DeliveryLedger
from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings, subjects
from fitstream.domain.dead_letter import DeadLetterReason
from fitstream.domain.delivery import (
    ChannelPreferences,
    Delivery,
    RetryPolicy,
    delivery_id,
    plan_deliveries,
)
from fitstream.domain.event_bounds import bucket_reach_ms
from fitstream.domain.notifications import Channel
from fitstream.kafka.clients import consumer_config, producer_config
from fitstream.kafka.dead_letter import SourceRef, dead_letter_headers
from fitstream.kafka.long_poll_shim import idle_pause
from fitstream.kafka.topics import OPERATIONAL_RETENTION_MS, partition_count
from fitstream.observability import metrics
from fitstream.privacy.erasures import ErasureLedger, record_timestamp_ms
from fitstream.privacy.fields import PREFERENCE_FIELDS, FieldCipher
from fitstream.privacy.keys import key_store
from fitstream.settings import FitStreamSettings

log = structlog.get_logger("delivery")

DELIVERY_SUBJECT = subjects.NOTIFICATION_DELIVERY
NOTIFICATION_SUBJECT = subjects.NOTIFICATION

Outcome = Callable[["PendingDelivery", str, str | None], None]
"""Called once per delivery with its final status (sent | dead_lettered) and detail."""


def read_topic(settings: FitStreamSettings, topic: str, serde: AvroSerde,
               stop: threading.Event | None = None, follow: bool = False,
               caught_up: Callable[[], None] | None = None,
               ) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
    """(partition, offset, record) of ``topic`` from the beginning, without a consumer
    group; the record is None where it does not decode (it is logged).

    Calls ``caught_up`` once the end of every partition as it was at the start has
    been read; stops there unless ``follow``.
    """
    kafka = settings.kafka
    consumer = Consumer(consumer_config(kafka, f"{settings.notifications.group_id}-reader"))
    try:
        partitions = partition_count(kafka, topic)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        behind = {p for p, end in ends.items() if end > 0}
        if not behind and caught_up:
            caught_up()
        while stop is None or not stop.is_set():
            if not behind and not follow:
                return
            message = consumer.poll(0.2)
            if message is None:
                if not behind:
                    idle_pause(consumer, kafka.emulate_long_poll_ms, stop or threading.Event())
                continue
            if message.error():
                continue
            if message.partition() in behind and message.offset() + 1 >= ends[message.partition()]:
                behind.discard(message.partition())
                if not behind and caught_up:
                    caught_up()
            try:
                record = serde.decode(message.value())[1]
            except SerdeError as exc:
                log.warning("undecodable_record_skipped", topic=topic, reason=exc.reason)
                record = None
            yield message.partition(), message.offset(), record
    finally:
        consumer.close()


class PreferenceBook:
    """Every user's latest channel preferences, kept current from their topic on a thread.

    :meth:`wait_until_current` lets the worker apply every preference saved before it
    read a batch of notifications: a user who chose email, then completed a workout,
    gets the email, however far the follower thread had got.
    """

    def __init__(self, settings: FitStreamSettings, serde: AvroSerde,
                 stop: threading.Event) -> None:
        self._settings = settings
        self._serde = serde
        self._stop = stop
        self._defaults = frozenset(Channel(c) for c in settings.notifications.default_channels)
        self._cipher = FieldCipher(key_store(settings))
        self._latest: dict[str, tuple[int, ChannelPreferences]] = {}
        self.ready = threading.Event()
        self._read: dict[int, int] = {}  # partition -> next offset to read
        self._moved = threading.Condition()
        self._thread = threading.Thread(target=self._follow, name="preferences", daemon=True)

    def start(self, timeout_s: float = 60) -> None:
        self._partitions = partition_count(self._settings.kafka,
                                           self._settings.kafka.notification_preferences_topic)
        self._thread.start()
        if not self.ready.wait(timeout_s):
            raise RuntimeError("the preferences topic could not be read to its end")

    def _follow(self) -> None:
        for partition, offset, record in read_topic(
                self._settings, self._settings.kafka.notification_preferences_topic,
                self._serde, self._stop, follow=True, caught_up=self.ready.set):
            if record is not None and not self.apply(record):
                return  # stopped while the key store was unavailable
            with self._moved:
                self._read[partition] = offset + 1
                self._moved.notify_all()

    def apply(self, record: dict[str, Any]) -> bool:
        """Take one preferences record (False: stopped before it could be opened).

        Sealed addresses open with the user's data key; an erased user's, and one sealed
        with a key they no longer have, read as None (unreachable), and a key store that
        does not answer is waited for (fitstream/privacy/fields.py): an exception here
        would end the follower thread, and every later preference with it."""
        opened = self._cipher.open_fields_patiently(record["user_id"], record,
                                                    PREFERENCE_FIELDS, self._stop)
        if opened is None:
            return False
        known = self._latest.get(opened["user_id"])
        if known is None or opened["updated_at"] >= known[0]:
            self._latest[opened["user_id"]] = (opened["updated_at"],
                                               ChannelPreferences.from_record(opened))
        return True

    def wait_until_current(self, consumer: Consumer, timeout_s: float = 10) -> bool:
        """Block until every preference on the topic now has been read (False on timeout)."""
        topic = self._settings.kafka.notification_preferences_topic
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5,
                                                  cached=False)[1]
                for p in range(self._partitions)}
        with self._moved:
            return self._moved.wait_for(
                lambda: all(self._read.get(p, 0) >= end for p, end in ends.items() if end),
                timeout_s)

    def get(self, user_id: str) -> ChannelPreferences:
        known = self._latest.get(user_id)
        return known[1] if known else ChannelPreferences(user_id, self._defaults)


@dataclass(order=True)
class PendingDelivery:
    due: float
    order: int
    delivery: Delivery = field(compare=False)
    source: SourceRef = field(compare=False)
    raw: bytes = field(compare=False)
    attempts: int = field(default=0, compare=False)


class ChannelLane:
    """One channel's thread: sends in order of due time, retries on its own schedule."""

    def __init__(self, channel: NotificationChannel, policy: RetryPolicy,
                 finish: Outcome) -> None:
        self.channel = channel
        self._policy = policy
        self._finish = finish
        self._inbox: queue.Queue[PendingDelivery] = queue.Queue()
        self._waiting: list[PendingDelivery] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lane-{channel.channel}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, pending: PendingDelivery) -> None:
        self._inbox.put(pending)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.channel.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = 0.2
            if self._waiting:
                timeout = max(0.0, min(timeout, self._waiting[0].due - time.monotonic()))
            try:
                heapq.heappush(self._waiting, self._inbox.get(timeout=timeout))
                continue  # take everything queued before sending
            except queue.Empty:
                pass
            if self._waiting and self._waiting[0].due <= time.monotonic():
                self._attempt(heapq.heappop(self._waiting))

    def _attempt(self, pending: PendingDelivery) -> None:
        pending.attempts += 1
        channel = self.channel.channel.value
        try:
            self.channel.send(pending.delivery)
        except DeliveryFailed as exc:
            delay = None if exc.permanent else self._policy.delay_after(pending.attempts)
            log.info("delivery_failed", channel=channel, delivery_id=pending.delivery.delivery_id,
                     attempt=pending.attempts, detail=str(exc), retry_in_s=delay)
            metrics.NOTIFICATION_SEND_FAILURES.labels(channel=channel).inc()
            if delay is None:
                self._finish(pending, "dead_lettered", str(exc))
            else:
                pending.due = time.monotonic() + delay
                heapq.heappush(self._waiting, pending)
            return
        self._finish(pending, "sent", None)


class OffsetTracker:
    """Which offsets may be committed: those whose notification, and all before it, finished.

    Offsets are not contiguous: a topic written with transactions (the Flink processor's)
    has commit markers between records, which no consumer receives. So the commit
    position is the earliest notification still open, or, when none is, the offset after
    the last one read, never a count of offsets seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (topic, partition) -> offset -> deliveries still open (only those above 0).
        self._open: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)
        self._read_to: dict[tuple[str, int], int] = {}  # the offset after the last read

    def track(self, source: SourceRef, deliveries: int) -> None:
        key = (source.topic, source.partition)
        with self._lock:
            if deliveries:
                self._open[key][source.offset] = deliveries
            self._read_to[key] = max(self._read_to.get(key, 0), source.offset + 1)

    def done(self, source: SourceRef) -> None:
        key = (source.topic, source.partition)
        with self._lock:
            open_offsets = self._open[key]
            open_offsets[source.offset] -= 1
            if not open_offsets[source.offset]:
                del open_offsets[source.offset]

    def committable(self) -> list[TopicPartition]:
        with self._lock:
            return [TopicPartition(t, p, min(self._open[(t, p)], default=read_to))
                    for (t, p), read_to in self._read_to.items()]


class DeliveryWorker:
    def __init__(self, settings: FitStreamSettings,
                 channels: dict[Channel, NotificationChannel] | None = None) -> None:
        self._settings = settings
        n = settings.notifications
        self._serde = AvroSerde(registry_from_settings(settings.schema_registry))
        self._stop = threading.Event()
        self._preferences = PreferenceBook(settings, self._serde, self._stop)
        # Notifications of an erased user logged up to the erasure are not delivered
        # (fitstream/privacy/erasures.py).
        self._erasures = ErasureLedger(settings, self._serde)
        self._producer = Producer(producer_config(settings.kafka))
        self._offsets = OffsetTracker()
        self._committed: dict[tuple[str, int], int] = {}
        # Deliveries with an outcome, kept while they can be seen again (delivery/ledger.py).
        # The horizon is the processor's session retirement horizon (session_batch.py).
        self._finished = DeliveryLedger(
            settings.processor.allowed_lateness_ms + bucket_reach_ms(), OPERATIONAL_RETENTION_MS)
        # Submitted to a lane, no outcome yet: a repeat of the notification (the
        # processor re-sends) must not become a second send.
        self._in_flight: set[str] = set()
        # Lane threads move a delivery from in flight to finished while the dispatch
        # thread asks "is it either?": without one lock the question can fall between
        # the two moves and send a repeat (seen in CI: one push delivered twice).
        self._ledger_lock = threading.RLock()  # _finish holds it around _receipt
        self._order = itertools.count()
        policy = RetryPolicy(n.max_attempts, n.backoff_base_s, n.backoff_max_s)
        channels = configured_channels(n) if channels is None else channels
        self._lanes = {name: ChannelLane(channel, policy, self._finish)
                       for name, channel in channels.items()}

    def stop(self) -> None:
        self._stop.set()

    def _receipt(self, notification: dict[str, Any], channel: Channel, status: str,
                 attempts: int, detail: str | None, source: SourceRef) -> None:
        record = {"delivery_id": delivery_id(notification["notification_id"], channel),
                  "notification_id": notification["notification_id"],
                  "user_id": notification["user_id"], "channel": channel.value,
                  "status": status, "attempts": attempts, "at": int(time.time() * 1000),
                  "detail": detail}
        self._producer.produce(self._settings.kafka.notification_deliveries_topic,
                               key=record["user_id"].encode(),
                               value=self._serde.encode(DELIVERY_SUBJECT, record))
        with self._ledger_lock:
            self._finished.add(record["delivery_id"], record["user_id"], record["at"],
                               notification["created_at"], source.topic, source.partition,
                               source.offset)
        metrics.NOTIFICATION_DELIVERIES.labels(channel=channel.value, status=status).inc()

    def _finish(self, pending: PendingDelivery, status: str, detail: str | None) -> None:
        delivery = pending.delivery
        if status == "dead_lettered":
            self._producer.produce(
                self._settings.kafka.notification_dlq_topic,
                key=delivery.notification["user_id"].encode(), value=pending.raw,
                headers=[*dead_letter_headers(DeadLetterReason.DELIVERY_FAILED, detail or "",
                                              pending.source),
                         ("dlq.channel", delivery.channel.value.encode()),
                         ("dlq.attempts", str(pending.attempts).encode())])
        with self._ledger_lock:
            self._receipt(delivery.notification, delivery.channel, status, pending.attempts,
                          detail, pending.source)
            self._in_flight.discard(delivery.delivery_id)
        self._offsets.done(pending.source)

    def _load_ledger(self) -> None:
        for _, _, record in read_topic(self._settings,
                                       self._settings.kafka.notification_deliveries_topic,
                                       self._serde, self._stop):
            if record is not None:
                self._finished.read_back(record["delivery_id"], record["user_id"], record["at"])
        log.info("delivery_ledger_loaded", finished=len(self._finished))

    def _dispatch(self, message: Any) -> None:
        source = SourceRef(message.topic(), message.partition(), message.offset())
        if self._erasures.is_erased(message.key(), record_timestamp_ms(message)):
            self._offsets.track(source, 0)
            return
        try:
            _, notification = self._serde.decode(message.value())
        except SerdeError as exc:
            self._producer.produce(
                self._settings.kafka.notification_dlq_topic, key=message.key(),
                value=message.value(),
                headers=dead_letter_headers(DeadLetterReason(exc.reason), str(exc), source))
            self._offsets.track(source, 0)
            return
        preferences = self._preferences.get(notification["user_id"])
        deliveries, unreachable = plan_deliveries(notification, preferences)
        todo = []
        with self._ledger_lock:
            self._finished.seen(notification["user_id"], notification["created_at"])
            for delivery in deliveries:
                # A repeat of an in-flight delivery shares its partition (key user_id) at a
                # later offset, so its offset cannot be committed before the first finishes.
                if (delivery.delivery_id in self._finished
                        or delivery.delivery_id in self._in_flight):
                    continue
                if delivery.channel not in self._lanes:
                    unreachable.append(delivery.channel)
                else:
                    todo.append(delivery)
                    self._in_flight.add(delivery.delivery_id)
        for channel in unreachable:
            if delivery_id(notification["notification_id"], channel) not in self._finished:
                configured = channel in self._lanes
                self._receipt(notification, channel, "unreachable", 0,
                              f"no {channel.value} address for the user" if configured
                              else f"the {channel.value} channel is not configured", source)
        self._offsets.track(source, len(todo))
        for delivery in todo:
            self._lanes[delivery.channel].submit(PendingDelivery(
                time.monotonic(), next(self._order), delivery, source, message.value()))

    def _commit(self, consumer: Consumer) -> None:
        offsets = [tp for tp in self._offsets.committable()
                   if self._committed.get((tp.topic, tp.partition)) != tp.offset]
        if not offsets:
            return  # each commit rewrites the embedded broker's storage: only real moves
        # Outcomes first: a committed offset must never hide an outcome still in flight.
        self._producer.flush(30)
        consumer.commit(offsets=offsets, asynchronous=False)
        self._committed.update({(tp.topic, tp.partition): tp.offset for tp in offsets})
        with self._ledger_lock:
            self._finished.prune(self._committed, int(time.time() * 1000))

    def run(self) -> None:
        settings = self._settings
        self._preferences.start()
        self._load_ledger()
        consumer = Consumer(consumer_config(settings.kafka, settings.notifications.group_id))
        consumer.subscribe([settings.kafka.notifications_topic])
        for lane in self._lanes.values():
            lane.start()
        log.info("delivering", channels=sorted(c.value for c in self._lanes))
        committed_at = time.monotonic()
        try:
            while not self._stop.is_set():
                messages = consumer.consume(500, timeout=0.5)
                if messages and not self._preferences.wait_until_current(consumer):
                    log.warning("preferences_behind", detail="delivering with what is known")
                if messages:
                    self._erasures.catch_up({m.partition() for m in messages if not m.error()})
                for message in messages:
                    if not message.error():
                        self._dispatch(message)
                if not messages:
                    idle_pause(consumer, settings.kafka.emulate_long_poll_ms, self._stop)
                self._producer.poll(0)
                if time.monotonic() - committed_at >= settings.notifications.commit_interval_s:
                    self._commit(consumer)
                    committed_at = time.monotonic()
        finally:
            for lane in self._lanes.values():
                lane.stop()
            self._commit(consumer)
            consumer.close()
            self._erasures.close()
            self._producer.flush(30)


def run_delivery_worker(settings: FitStreamSettings) -> None:
    worker = DeliveryWorker(settings)
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()
