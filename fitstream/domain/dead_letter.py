"""Why a record left the main flow. The values travel in DLQ record headers."""

from __future__ import annotations

from enum import StrEnum


class DeadLetterReason(StrEnum):
    MALFORMED = "malformed"  # bytes that are not an Avro record in the wire format
    UNKNOWN_SCHEMA = "unknown_schema"  # a schema id no registry knows
    NOT_A_WORKOUT_EVENT = "not_a_workout_event"  # a valid record of another contract
    UNKNOWN_WORKOUT = "unknown_workout"  # no WorkoutStarted arrived within the timeout
    ILLEGAL_TRANSITION = "illegal_transition"  # the state machine forbids it
    CONFLICTING_SEQ = "conflicting_seq"  # another event already holds this seq
    REORDER_BUFFER_FULL = "reorder_buffer_full"  # too far ahead of the next expected seq
    LATE = "late"  # further behind its user's clock than the allowed lateness
    FROM_FUTURE = "from_future"  # occurred_at far ahead of the Kafka record's timestamp
    OUT_OF_BOUNDS = "out_of_bounds"  # a field outside its physical or contractual bounds
    UNREADABLE_COORDINATES = "unreadable_coordinates"  # sealed coordinates that do not open
    USER_ERASED = "user_erased"  # the user asked to be erased (GDPR); nothing of theirs is kept
    DELIVERY_FAILED = "delivery_failed"  # a channel kept failing past the retries
    DELIVERY_REJECTED = "delivery_rejected"  # a channel refused it for good (bad address)
