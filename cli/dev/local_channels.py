"""A local stand-in for the notification providers: a push gateway, an SMS gateway and an
SMTP server on loopback, which record what they receive.

The demo points the delivery worker here (the embedded default has no real
providers), so the channels run over real HTTP and real SMTP. Every message
received is appended, with the provider's name and the idempotency key, to a
JSON-lines file; repeats are recorded too, which shows at-least-once delivery.

Given a TLS context, the SMTP server requires STARTTLS (the tests give it a self-signed
certificate, which a verifying client must refuse). HTTP requests are recorded with
their ``Authorization`` header.

Paths under ``/unavailable/`` answer 503, and ``/rejecting/`` answer 400: point a
channel there to watch it retry and dead-letter.
"""

from __future__ import annotations

import json
import ssl
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class ReceivedLog:
    """Thread-safe append-only record of received messages (memory and a JSONL file)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.messages.append(message)
            if self.path is not None:
                with self.path.open("a") as out:
                    out.write(json.dumps(message) + "\n")

    def by(self, provider: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["provider"] == provider]


def _http_handler(received: ReceivedLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path.startswith("/unavailable/"):
                self._answer(503, b'{"error": "unavailable"}')
                return
            if self.path.startswith("/rejecting/"):
                self._answer(400, b'{"error": "invalid recipient"}')
                return
            received.add({"provider": self.path.strip("/"),
                          "idempotency_key": self.headers.get("idempotency-key"),
                          # What a real gateway would check; None when none was sent.
                          "authorization": self.headers.get("authorization"),
                          "payload": json.loads(body or b"null")})
            self._answer(202, b'{"accepted": true}')

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass  # quiet: the received log is the record

    return Handler


class _SmtpHandler:
    def __init__(self, received: ReceivedLog) -> None:
        self._received = received

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content)
        self._received.add({"provider": "smtp", "idempotency_key": message["Message-ID"],
                            "payload": {"to": envelope.rcpt_tos, "subject": message["Subject"],
                                        "body": message.get_payload().strip()}})
        return "250 Message accepted for delivery"


class LocalChannels:
    """The HTTP and SMTP endpoints; :meth:`start` binds them, :meth:`stop` closes them."""

    def __init__(self, host: str = "127.0.0.1", http_port: int = 0, smtp_port: int = 0,
                 log_path: Path | None = None,
                 smtp_tls_context: ssl.SSLContext | None = None) -> None:
        self.received = ReceivedLog(log_path)
        self._http = ThreadingHTTPServer((host, http_port), _http_handler(self.received))
        # With a TLS context the SMTP server offers STARTTLS and refuses mail without it,
        # as a provider's submission port does.
        tls = ({"tls_context": smtp_tls_context, "require_starttls": True}
               if smtp_tls_context is not None else {})
        self._smtp = Controller(_SmtpHandler(self.received), hostname=host,
                                port=smtp_port or self._free_port(host), **tls)
        self.host = host
        self._thread = threading.Thread(target=self._http.serve_forever, name="local-channels",
                                        daemon=True)

    @staticmethod
    def _free_port(host: str) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind((host, 0))
            return probe.getsockname()[1]

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self._http.server_address[1]}"

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    def settings_update(self) -> dict[str, Any]:
        """NotificationSettings fields that point every channel here."""
        return {"push_webhook_url": f"{self.http_url}/push", "smtp_host": self.host,
                "smtp_port": self.smtp_port, "sms_gateway_url": f"{self.http_url}/sms"}

    def start(self) -> None:
        self._thread.start()
        self._smtp.start()

    def stop(self) -> None:
        self._smtp.stop()
        self._http.shutdown()
        self._http.server_close()
