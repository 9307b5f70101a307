"""`fitstream settings` prints the settings in force with every secret masked (issue 9,
finding 7: it printed the S3 secret key and the Redis password).

Every ``SecretStr`` field of the settings is found by walking the model, so a secret
added later is covered without editing this test; each is set through its
``FITSTREAM_*`` variable to a recognisable value, and none may appear in the output.
A secret put into a printable field (object-store options, the Redis connection string,
librdkafka overrides, the schema registry URL) is refused, and the refusal does not echo
it either.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from typer.testing import CliRunner

from cli.main import app
from fitstream.settings import (
    ApiSettings,
    FitStreamSettings,
    get_settings,
    is_secret_option,
)


def secret_fields(model: type[BaseModel], path: tuple[str, ...] = ()
                  ) -> Iterator[tuple[tuple[str, ...], object]]:
    """(field path, annotation) of every SecretStr, or dict of them, in the settings."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if annotation is SecretStr or (typing.get_origin(annotation) is dict
                                       and typing.get_args(annotation)[1] is SecretStr):
            yield (*path, name), annotation
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from secret_fields(annotation, (*path, name))


def env_key(path: tuple[str, ...]) -> str:
    return "FITSTREAM_" + "__".join(part.upper() for part in path)


def run_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["settings"])
    finally:
        get_settings.cache_clear()


def test_the_walk_finds_the_secrets_the_review_named():
    found = {".".join(path) for path, _ in secret_fields(FitStreamSettings)}
    assert {"clickhouse.password", "api.token_secret", "notifications.smtp_password",
            "notifications.push_webhook_authorization",
            "notifications.sms_gateway_authorization", "lakehouse.access_key_id",
            "lakehouse.secret_access_key", "feast.redis_password"} <= found


def test_no_secret_value_appears_in_the_settings_output(monkeypatch):
    env, values = {}, []
    for path, annotation in secret_fields(FitStreamSettings):
        value = f"leak-canary-{'-'.join(path)}".ljust(32, "x")  # token secrets: 32+
        values.append(value)
        env[env_key(path)] = (value if annotation is SecretStr
                              else json.dumps({"k1": value}))  # a key ring: kid -> secret
    # The printable fields beside them, set as production does.
    env["FITSTREAM_LAKEHOUSE__STORAGE_OPTIONS"] = json.dumps(
        {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_REGION": "us-east-1"})
    env["FITSTREAM_FEAST__REDIS_CONNECTION_STRING"] = "redis:6379"
    result = run_settings(monkeypatch, env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["lakehouse"]["storage_options"]["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert printed["feast"]["redis_password"] == "**********"
    leaked = [v for v in values if v in result.output]
    assert not leaked, f"printed in clear: {leaked}"
    # The secrets still reach the code that needs them.
    settings = FitStreamSettings()
    assert settings.lakehouse.object_store_options()["AWS_SECRET_ACCESS_KEY"] == (
        "leak-canary-lakehouse-secret_access_key")
    assert settings.feast.redis_connection() == (
        "redis:6379,password=leak-canary-feast-redis_password")


@pytest.mark.parametrize(("key", "value"), [
    ("FITSTREAM_LAKEHOUSE__STORAGE_OPTIONS",
     json.dumps({"AWS_ENDPOINT_URL": "http://minio:9000",
                 "AWS_SECRET_ACCESS_KEY": "leak-canary-s3"})),
    ("FITSTREAM_FEAST__REDIS_CONNECTION_STRING", "redis:6379,password=leak-canary-redis"),
    ("FITSTREAM_KAFKA__CLIENT_OVERRIDES",
     json.dumps({"security.protocol": "SASL_SSL", "sasl.password": "leak-canary-kafka"})),
    ("FITSTREAM_SCHEMA_REGISTRY__URL", "http://registry:leak-canary-sr@schema-registry:8081"),
])
def test_a_secret_in_a_printable_field_is_refused_without_echoing_it(monkeypatch, key, value):
    result = run_settings(monkeypatch, {key: value})
    assert "leak-canary" not in result.output
    assert result.exit_code != 0
    assert "leak-canary" not in str(result.exception)


@pytest.mark.parametrize("key", ["azure_storage_account_key", "account_key",
                                 "google_service_account_key", "sas", "sas_key",
                                 "azure_storage_sas_key", "token", "AZURE_STORAGE_TOKEN",
                                 "azure_storage_master_key"])
def test_object_store_credentials_of_every_cloud_are_secret(monkeypatch, key):
    assert is_secret_option(key)
    monkeypatch.setenv("FITSTREAM_LAKEHOUSE__STORAGE_OPTIONS",
                       json.dumps({key: "leak-canary-cloud"}))
    with pytest.raises(ValidationError, match=r"set lakehouse\.access_key_id") as refused:
        FitStreamSettings()
    assert "leak-canary" not in str(refused.value)


@pytest.mark.parametrize("key", ["sasl.mechanism", "session.timeout.ms", "AWS_REGION",
                                 "AWS_ENDPOINT_URL", "azure_storage_account_name",
                                 "google_service_account_path"])
def test_plain_options_are_not_secret(key):
    assert not is_secret_option(key)


@pytest.mark.parametrize("secret", ["x", "s" * 31])
def test_token_secrets_shorter_than_32_characters_are_refused(monkeypatch, secret):
    with pytest.raises(ValidationError, match="at least 32 characters"):
        ApiSettings(token_secret=secret)
    with pytest.raises(ValidationError, match="the secrets of k1: at least 32"):
        ApiSettings(token_accepted_secrets={"k0": "a" * 32, "k1": secret})
    monkeypatch.setenv("FITSTREAM_API__TOKEN_SECRET", secret)
    with pytest.raises(ValidationError) as refused:
        FitStreamSettings()
    assert secret * 2 not in str(refused.value)  # not echoed (hide_input_in_errors)


def test_the_public_default_and_32_character_secrets_are_accepted():
    assert ApiSettings().token_secret.get_secret_value() == (
        "fitstream-dev-secret-change-me-in-production")
    ApiSettings(token_secret="s" * 32, token_accepted_secrets={"k1": "a" * 32})
