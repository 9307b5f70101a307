"""Pipeline health with the broker down (api/pipeline_health.py): the failure is an
answer kept for the ttl, so polls get their 503 at once instead of each waiting out
the Kafka timeouts; analysts get a generic message, the log gets the Kafka error.

No broker: the clients point at a port nothing listens on (the real clients, failing
for real). Fast: one short Kafka timeout per measurement.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.app import create_app
from api.pipeline_health import UNAVAILABLE_MESSAGE, PipelineReadings, PipelineUnavailable
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_analyst_token
from tests.harness import free_port

TTL_S = 30.0
TIMEOUT_S = 0.3


class Clock:
    """Monotonic seconds the test moves by hand (the ttl is a duration)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def down():
    settings = FitStreamSettings()
    settings = settings.model_copy(update={
        "kafka": settings.kafka.model_copy(
            update={"bootstrap_servers": f"127.0.0.1:{free_port()}"}),
        "api": settings.api.model_copy(update={"pipeline_health_ttl_s": TTL_S})})
    clock = Clock()
    readings = PipelineReadings(settings, kafka_timeout_s=TIMEOUT_S, clock=clock)
    try:
        yield settings, readings, clock
    finally:
        readings.close()


def failure_of(readings: PipelineReadings) -> tuple[PipelineUnavailable, float]:
    started = time.monotonic()
    with pytest.raises(PipelineUnavailable) as raised:
        readings.answer()
    return raised.value, time.monotonic() - started


def test_a_failure_is_kept_for_the_ttl_and_answered_at_once(down):
    _, readings, clock = down
    with capture_logs() as logs:
        first, waited = failure_of(readings)
    assert waited >= TIMEOUT_S  # the first one waits out the Kafka timeout
    assert first.__cause__ is not None
    assert [entry["event"] for entry in logs] == ["pipeline_health_unavailable"]
    assert str(first.__cause__)[:50] in logs[0]["error"]
    assert first.retry_after_s == 30

    clock.now += 12.5
    with capture_logs() as logs:
        again, waited = failure_of(readings)
    # The same failure, not a new measurement: the same Kafka error, no new log line,
    # and no Kafka timeout waited out.
    assert again.__cause__ is first.__cause__
    assert logs == []
    assert waited < TIMEOUT_S / 2
    assert again.retry_after_s == 18  # ceil(30 - 12.5)

    clock.now += TTL_S
    after, _ = failure_of(readings)  # the ttl is over: measured again
    assert after.__cause__ is not first.__cause__


def test_a_poll_arriving_while_another_measures_does_not_wait_for_it(down):
    _, readings, clock = down
    first, _ = failure_of(readings)
    clock.now += TTL_S  # the next poll measures again: hold the lock as it would
    with readings._lock:
        during, waited = failure_of(readings)
    assert during.__cause__ is first.__cause__  # the known outcome, at once
    assert waited < TIMEOUT_S / 2
    assert during.retry_after_s == 1


def test_the_route_answers_503_with_a_generic_message_and_retry_after(down):
    settings, readings, clock = down
    app = create_app(settings, AvroSerde(registry_from_settings(settings.schema_registry)),
                     None, None)
    app.state.pipeline_readings = readings
    token = issue_analyst_token(settings.api.token_secret.get_secret_value(), "ops-1", 60)
    with TestClient(app) as client:
        answers = []
        for _ in range(2):
            answers.append(client.get("/api/v1/pipeline/health",
                                      headers={"Authorization": f"Bearer {token}"}))
            clock.now += 10
    for answer, retry_after in zip(answers, ("30", "20"), strict=True):
        assert answer.status_code == 503
        assert answer.json() == {"error": "unavailable", "message": UNAVAILABLE_MESSAGE,
                                 "code": 503, "details": None}
        assert answer.headers["retry-after"] == retry_after
    # Nothing of the Kafka error reaches the analyst: not the broker's address either.
    assert settings.kafka.bootstrap_servers.split(":")[1] not in answers[0].text
