"""The external channels against the local stand-ins on loopback (issue 9, finding 6).

- Email: STARTTLS verifies the server's certificate. A server with a self-signed
  certificate the client does not trust is refused before anything (the password above
  all) is sent; the same server, once its certificate is trusted, gets the message.
- Push and SMS gateways: the configured ``Authorization`` header is sent; none is sent
  when the setting is empty.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cli.dev.local_channels import LocalChannels
from delivery.channel import DeliveryFailed
from delivery.push_webhook import PushWebhookChannel
from delivery.sms_gateway import SmsGatewayChannel
from delivery.smtp_email import SmtpEmailChannel
from fitstream.domain.delivery import Delivery
from fitstream.domain.notifications import Channel
from fitstream.settings import NotificationSettings

NOTIFICATION = {"notification_id": "n:user-1:goal-1:w-1", "user_id": "user-1",
                "kind": "distance_goal", "title": "5 km done!", "body": "Keep going!",
                "created_at": 1_793_606_400_000, "workout_id": "w-1"}


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fitstream-test-smtp")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_channels(tmp_path):
    cert_path, key_path = self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    channels = LocalChannels(smtp_tls_context=server_context)
    channels.start()
    yield channels, cert_path
    channels.stop()


def email_settings(channels: LocalChannels, **update) -> NotificationSettings:
    return NotificationSettings(**{**channels.settings_update(), "smtp_starttls": True,
                                   "send_timeout_s": 10.0, **update})


def test_starttls_refuses_a_server_whose_certificate_is_not_trusted(tls_channels, monkeypatch):
    channels, _ = tls_channels
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    channel = SmtpEmailChannel(email_settings(channels, smtp_user="mailer",
                                              smtp_password="the-smtp-password"))
    with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
        channel.send(Delivery(NOTIFICATION, Channel.EMAIL, "u1@example.org"))
    assert channels.received.by("smtp") == []


def test_starttls_delivers_once_the_certificate_is_trusted(tls_channels, monkeypatch):
    channels, cert_path = tls_channels
    # The default context reads the trusted CAs from here: the test's CA, nothing else.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    SmtpEmailChannel(email_settings(channels)).send(
        Delivery(NOTIFICATION, Channel.EMAIL, "u1@example.org"))
    [received] = channels.received.by("smtp")
    assert received["payload"]["to"] == ["u1@example.org"]
    assert received["payload"]["subject"] == "5 km done!"


@pytest.fixture
def http_channels():
    channels = LocalChannels()
    channels.start()
    yield channels
    channels.stop()


def test_gateways_get_their_authorization_header(http_channels):
    settings = NotificationSettings(**http_channels.settings_update(),
                                    push_webhook_authorization="Bearer push-gateway-token",
                                    sms_gateway_authorization="Basic c21zOmdhdGV3YXk=")
    PushWebhookChannel(settings).send(Delivery(NOTIFICATION, Channel.PUSH, "user-1"))
    SmsGatewayChannel(settings).send(Delivery(NOTIFICATION, Channel.SMS, "+15550100"))
    [push] = http_channels.received.by("push")
    [sms] = http_channels.received.by("sms")
    assert push["authorization"] == "Bearer push-gateway-token"
    assert sms["authorization"] == "Basic c21zOmdhdGV3YXk="
    assert push["idempotency_key"] == "n:user-1:goal-1:w-1|push"


def test_no_authorization_header_when_none_is_configured(http_channels):
    settings = NotificationSettings(**http_channels.settings_update())
    PushWebhookChannel(settings).send(Delivery(NOTIFICATION, Channel.PUSH, "user-1"))
    [push] = http_channels.received.by("push")
    assert push["authorization"] is None
