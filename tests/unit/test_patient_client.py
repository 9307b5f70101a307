"""The demo's client of the rate limits (cli/dev/patient_client.py) against a real HTTP
server that refuses with 429 and Retry-After as the API does: it waits the header's
seconds and resends, the caller sees only the answer that was not a 429, and a server
that keeps refusing ends in an error instead of a loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from cli.dev.patient_client import PatientClient, RateLimitTally, anonymous_pace


class Refusing(BaseHTTPRequestHandler):
    """429 (Retry-After: 1, the API's error body) for the first ``refusals`` requests,
    then 200 with a JSON body; records when each request arrived."""

    refusals = 1
    arrivals: list[float] = []

    def do_GET(self) -> None:
        self.arrivals.append(time.monotonic())
        refused = len(self.arrivals) <= self.refusals
        body = (b'{"error":"Too Many Requests","message":"over the client address limit",'
                b'"code":"rate_limited","details":{}}' if refused else b'{"items":[]}')
        self.send_response(429 if refused else 200)
        if refused:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Refusing]]]:
    handler = type("RefusingOnce", (Refusing,), {"arrivals": [], "refusals": 1})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_429_is_waited_out_for_its_retry_after_and_the_request_sent_again(server):
    url, handler = server
    tally = RateLimitTally()
    with PatientClient(base_url=url, tally=tally, console=Console(quiet=True)) as client:
        response = client.get("/api/v1/users/user-00000/workouts")
    assert response.status_code == 200
    assert response.json() == {"items": []}
    first, second = handler.arrivals
    assert second - first >= 1.0
    assert (tally.refused, tally.waited_s) == (1, 1.0)
    assert tally.line() == ("rate limits: the API answered 429 1 times; the demo waited "
                            "1.0 s in all (Retry-After) and retried each")


def test_a_server_that_keeps_refusing_ends_in_an_error_not_a_loop(server):
    url, handler = server
    handler.refusals = 10
    tally = RateLimitTally()
    with PatientClient(base_url=url, tally=tally, console=Console(quiet=True),
                       max_retries=1) as client, pytest.raises(RuntimeError, match="still rate"):
        client.get("/api/v1/users/user-00000/achievements")
    assert len(handler.arrivals) == 2
    assert (tally.refused, tally.waited_s) == (2, 1.0)


def test_the_pace_is_a_share_of_the_slowest_configured_rate():
    assert anonymous_pace("50/second;1500/minute") == 20.0  # 0.8 of 25/s
    assert anonymous_pace("10/second") == 8.0
    assert anonymous_pace("") is None  # the limit is off: no pacing


def test_a_paced_client_spaces_its_requests(server):
    url, handler = server
    handler.refusals = 0
    with PatientClient(base_url=url, tally=RateLimitTally(), console=Console(quiet=True),
                       pace_per_s=20) as client:
        for _ in range(5):
            assert client.get("/").status_code == 200
    assert handler.arrivals[-1] - handler.arrivals[0] >= 4 / 20
