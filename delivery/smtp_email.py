"""Email over SMTP. The Message-ID is derived from the delivery id, so a repeated send
is recognisably the same message to any mail system that dedupes on it."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage

from delivery.channel import DeliveryFailed
from fitstream.domain.delivery import Delivery
from fitstream.domain.notifications import Channel
from fitstream.settings import NotificationSettings


def message_id(delivery_id: str) -> str:
    return f"<{hashlib.sha256(delivery_id.encode()).hexdigest()[:32]}@fitstream.notifications>"


class SmtpEmailChannel:
    channel = Channel.EMAIL

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    def send(self, delivery: Delivery) -> None:
        s = self._settings
        n = delivery.notification
        message = EmailMessage()
        message["From"] = s.smtp_sender
        message["To"] = delivery.address
        message["Subject"] = n["title"]
        message["Message-ID"] = message_id(delivery.delivery_id)
        message["X-FitStream-Delivery"] = delivery.delivery_id
        message.set_content(n["body"])
        try:
            # A connection per message: sends are rare next to telemetry, and a pooled
            # connection would need liveness checks.
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.send_timeout_s) as smtp:
                if s.smtp_starttls:
                    # Verify the server's certificate and name: without a context,
                    # starttls() accepts any certificate, and the login below would hand
                    # the password to whoever answers.
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                 permanent=500 <= exc.smtp_code < 600) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        pass
