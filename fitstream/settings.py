"""The one typed settings object.

Every process reads its configuration here, from ``FITSTREAM_*`` environment
variables (nested fields use ``__``, e.g. ``FITSTREAM_CLICKHOUSE__BACKEND``).
The embedded defaults run the whole platform on one machine; production
(docker-compose) only changes values, never code paths.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def is_secret_option(key: str) -> bool:
    """An object-store option that is a credential (deltalake/object_store key names)."""
    key = key.lower()
    # (AWS_SESSION_TOKEN is caught by "token"; not "session": librdkafka has
    # session.timeout.ms. Azure's and Google's keys end in "account_key"/"master_key";
    # an Azure SAS is the word "sas", never the prefix: librdkafka has sasl.mechanism.)
    return (any(word in key for word in ("secret", "password", "token", "access_key",
                                         "credential", "account_key", "master_key"))
            or "sas" in re.split(r"[^a-z0-9]+", key))


class LocalFileKeyStoreConfig(BaseModel):
    """The embedded default's data keys (fitstream/privacy/keys/local_file.py): one file
    per user."""

    type: Literal["file"] = "file"
    # Relative paths live under the state directory.
    path: Path = Path("keys")


class PostgresKeyStoreConfig(BaseModel):
    """Production's data keys (fitstream/privacy/keys/postgres.py): one table."""

    type: Literal["postgres"] = "postgres"
    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "fitstream"
    user: str = "fitstream"
    password: SecretStr = SecretStr("")
    table: str = Field("user_data_keys", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    connect_timeout_s: int = Field(10, ge=1)


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:19092"
    events_topic: str = "workouts.events.v1"
    events_partitions: int = Field(8, ge=1)
    dlq_topic: str = "workouts.events.dlq.v1"
    summaries_topic: str = "workouts.summaries.v1"
    leaderboard_topic: str = "leaderboards.entries.v1"
    achievements_topic: str = "achievements.v1"
    achievement_progress_topic: str = "achievements.progress.v1"
    routes_topic: str = "workouts.routes.v1"
    # Internal: completed workouts re-keyed by weekly board, for the top-places agent.
    board_completions_topic: str = "leaderboards.board-completions.v1"
    notifications_topic: str = "notifications.v1"
    notification_reads_topic: str = "notifications.reads.v1"
    notification_deliveries_topic: str = "notifications.deliveries.v1"
    notification_dlq_topic: str = "notifications.dlq.v1"
    notification_preferences_topic: str = "users.notification-preferences.v1"
    features_topic: str = "features.user.v1"
    # Revoked device tokens, key jti:<jti> or device:<device_id>, latest wins (compacted);
    # every API process that serves ingest follows it (api/revocations.py).
    device_revocations_topic: str = "devices.revocations.v1"
    # WorkoutClaim records, key workout_id: who started a workout id, and when (record time).
    claims_topic: str = "workouts.claims.v1"
    # UserErased, key user_id, compacted and never tombstoned: the processor, the sinks
    # and replays skip a user's records logged at or before the erasure
    # (fitstream/privacy/erasures.py).
    erasures_topic: str = "users.erasures.v1"
    # The scorer's outputs (streams/scoring), key user_id, kept forever: a prediction is a
    # record of what a model version said, and the ClickHouse views replay from them.
    forecasts_topic: str = "predictions.forecasts.v1"
    race_predictions_topic: str = "predictions.race-times.v1"
    recommendations_topic: str = "predictions.recommendations.v1"
    # Feature rows the scorer could not score (no online row, no champion yet, a model
    # error), with a reason: never dropped silently.
    scoring_dlq_topic: str = "predictions.dlq.v1"
    replication_factor: int = Field(1, ge=1)
    # The embedded broker answers empty fetches at once; idle consumers wait this
    # long before asking again (fitstream.kafka.long_poll_shim). 0 on real Kafka.
    emulate_long_poll_ms: int = Field(200, ge=0)
    # librdkafka settings merged into every client. The embedded broker ignores
    # fetch size limits, so the defaults raise the receive limit (see README).
    client_overrides: dict[str, str | int] = Field(
        default_factory=lambda: {"receive.message.max.bytes": 2147483647}
    )

    @field_validator("client_overrides")
    @classmethod
    def _no_secret_in_overrides(cls, overrides: dict[str, str | int]) -> dict[str, str | int]:
        # Printed by `fitstream settings`: no credential may hide here (SASL and TLS keys
        # have no secret field yet, so they are refused rather than printed).
        secret = sorted(k for k in overrides if is_secret_option(k) or k.startswith("ssl.key"))
        if secret:
            raise ValueError(f"{', '.join(secret)}: credentials are not accepted in "
                             "client_overrides (it is printed)")
        return overrides


class SchemaRegistrySettings(BaseModel):
    # Empty: use the registry kept in the repo (schemas/registry.json).
    url: str = ""
    repo_registry_path: Path = REPO_ROOT / "schemas" / "registry.json"

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, url: str) -> str:
        if url and urlsplit(url).password is not None:
            raise ValueError("a password in the schema registry URL would be printed")
        return url


class BrokerSettings(BaseModel):
    """The embedded noida-db broker, used by the demo and the tests only."""

    host: str = "127.0.0.1"
    port: int = 19092
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 30.0


class ClickHouseSettings(BaseModel):
    backend: Literal["chdb", "server"] = "chdb"
    # chdb: data directory (relative paths live under the state directory).
    chdb_path: Path = Path("clickhouse")
    host: str = "127.0.0.1"
    port: int = 9000
    user: str = "default"
    password: SecretStr = SecretStr("")
    database: str = "fitstream"


class FlinkSettings(BaseModel):
    """The Flink engine of the processor (streams/flink/job.py, run by ``fitstream process
    --engine flink`` in the Flink venv). Measured choices and traps: docs/flink-findings.md."""

    # The Flink venv's interpreter (apache-flink cannot share the app venv's pins);
    # relative paths are from the project root.
    python: Path = Path(".venv-flink/bin/python")
    # "thread" runs the Python functions inside the JVM (pemja), "process" in worker
    # processes beside it. Both give Faust's outputs; thread is the faster (about 10% more
    # records/s, checkpoints of 0.2-0.4 s against 0.8-1.0 s: README, Performance).
    execution_mode: Literal["process", "thread"] = "thread"
    parallelism: int = Field(1, ge=1)
    # Outputs become visible to read_committed consumers at each completed checkpoint,
    # so this is also the floor of the Flink engine's freshness.
    checkpoint_interval_s: float = Field(2.0, gt=0)
    # A local directory (relative: under the state dir) or a URI (file://, s3://).
    checkpoint_dir: str = "flink/checkpoints"
    state_backend: Literal["hashmap", "rocksdb"] = "hashmap"
    # exactly-once: one Kafka transaction per checkpoint; at-least-once: the idempotent
    # sinks absorb the re-sends after a restore.
    delivery: Literal["exactly-once", "at-least-once"] = "exactly-once"
    # Must cover the longest checkpoint plus a restart; the broker caps it
    # (transaction.max.timeout.ms, 15 min by default).
    transaction_timeout_ms: int = Field(600_000, ge=1000)
    # Flink 2.0 restarts a failed checkpointed job forever: a few attempts, then fail,
    # so a broken job ends its process instead of hanging it.
    restart_attempts: int = Field(3, ge=0)
    # Records and milliseconds per bundle between the JVM and the Python workers
    # (None: Flink's defaults, 100,000 and 1,000 ms).
    bundle_size: int | None = Field(None, ge=1)
    bundle_time_ms: int | None = Field(None, ge=1)
    # A session cluster's REST address (host:port) to submit to; empty runs the job in
    # an embedded mini-cluster inside the process.
    jobmanager: str = ""
    # The events stage re-reads the erasure topic before a record logged after its last
    # read, and at least this often (fitstream/privacy/erasures.py says why).
    erasure_refresh_s: float = Field(1.0, gt=0)


class ProcessorSettings(BaseModel):
    app_id: str = "fitstream-workout-sessions"
    # Which stream processor runs the pipeline core: Faust workers (the default) or a
    # Flink job (streams/flink). Both write the same records to the same topics.
    engine: Literal["faust", "flink"] = "faust"
    flink: FlinkSettings = FlinkSettings()
    batch_max_records: int = Field(5000, ge=1)
    batch_within_s: float = Field(0.25, gt=0)
    # An event for a workout whose WorkoutStarted has not arrived waits this long (in
    # event time, against its user's clock: fitstream/domain/event_time.py) before it
    # is dead-lettered.
    unknown_workout_timeout_ms: int = Field(15 * 60 * 1000, ge=0)
    # Events further behind their user's clock go to the DLQ as `late`.
    allowed_lateness_ms: int = Field(48 * 3600 * 1000, ge=0)
    # Events whose occurred_at is further ahead of their Kafka record's timestamp go to
    # the DLQ as `from_future` (and never move a clock).
    max_future_skew_ms: int = Field(5 * 60 * 1000, ge=0)
    # The worker's web server serves /metrics; a replay runs without it.
    web_enabled: bool = True
    web_port: int = 6066
    web_bind: str = "127.0.0.1"
    # How often offsets are committed. Each commit rewrites the embedded broker's
    # storage, so keep it in seconds; sends do not wait for it.
    commit_interval_s: float = Field(10.0, gt=0)
    # A crashed worker's partitions move to the others after this long. The embedded
    # broker waits the whole rebalance timeout for a dead member, so it is short too.
    session_timeout_s: float = Field(10.0, gt=0)
    rebalance_timeout_s: float = Field(20.0, gt=0)
    # Static group membership (KIP-345): a restarted worker with the same id takes its
    # partitions back at once. The embedded broker never evicts a crashed member, so
    # without it a killed worker's partitions would stay stuck. One id per worker;
    # empty for dynamic membership (docker-compose's scaled replicas).
    group_instance_id: str = "workout-sessions-0"

    @property
    def consumer_group(self) -> str:
        """The group whose committed offsets on the events topic say what the processor
        has processed: Faust commits as ``app_id``; the Flink job's source commits as
        ``<app_id>-flink`` when a checkpoint completes (it resumes from the checkpoint,
        never from the group)."""
        return self.app_id if self.engine == "faust" else f"{self.app_id}-flink"


class SinkSettings(BaseModel):
    group_id: str = "fitstream-clickhouse-sink"
    batch_max_rows: int = Field(10000, ge=1)
    batch_max_wait_s: float = Field(0.5, gt=0)
    commit_interval_s: float = Field(5.0, ge=0)


class NotificationSettings(BaseModel):
    """The delivery worker: channels, their endpoints, and how failures are retried.

    A channel whose endpoint is empty is not configured: its deliveries are
    recorded as ``unreachable`` with the reason, never silently dropped.
    """

    group_id: str = "fitstream-notification-delivery"
    # External channels for users who have not chosen; the inbox gets everything anyway.
    default_channels: list[Literal["push", "email", "sms"]] = Field(
        default_factory=lambda: ["push"])
    # Push: JSON POST per delivery to a push gateway (it maps users to device tokens).
    push_webhook_url: str = ""
    # The Authorization header's value for the push gateway ("Bearer ..."); empty: none.
    push_webhook_authorization: SecretStr = SecretStr("")
    # Email: SMTP; empty host disables email.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_sender: str = "FitStream <notifications@fitstream.local>"
    # SMS: JSON POST {to, body, sender} to an HTTP SMS gateway; empty disables SMS.
    sms_gateway_url: str = ""
    # The Authorization header's value for the SMS gateway; empty: none.
    sms_gateway_authorization: SecretStr = SecretStr("")
    sms_sender: str = "FitStream"
    send_timeout_s: float = Field(5.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    commit_interval_s: float = Field(5.0, ge=0)


class LakehouseSettings(BaseModel):
    """The Delta Lake tables (bronze, silver, gold) and the sinks that write them."""

    # A directory (relative: under the state directory) or an object-store URI (s3://...).
    root: str = "lakehouse"
    # deltalake storage options for object stores (endpoint, region...), without the keys:
    # they are the secrets below, so that settings print masked.
    storage_options: dict[str, str] = Field(default_factory=dict)
    access_key_id: SecretStr = SecretStr("")
    secret_access_key: SecretStr = SecretStr("")
    group_id: str = "fitstream-lakehouse"
    # Static membership (as for the processor): a restarted sink takes its partitions back
    # at once, and the embedded broker never evicts a crashed member. Empty: dynamic.
    group_instance_id: str = "lakehouse-0"
    # Small files are the cost of streaming into Delta: a commit waits for this many
    # rows or this long, whichever comes first.
    batch_max_rows: int = Field(50_000, ge=1)
    batch_max_wait_s: float = Field(5.0, gt=0)
    # Kafka offsets are advisory (lag metrics): progress lives in the Delta log.
    offset_commit_interval_s: float = Field(30.0, gt=0)

    @field_validator("storage_options")
    @classmethod
    def _no_secret_in_options(cls, options: dict[str, str]) -> dict[str, str]:
        # A key here would be printed by `fitstream settings`: refuse it, name the field.
        secret = sorted(k for k in options if is_secret_option(k))
        if secret:
            raise ValueError(f"{', '.join(secret)}: set lakehouse.access_key_id and "
                             "lakehouse.secret_access_key instead (secrets, printed masked)")
        return options

    def object_store_options(self) -> dict[str, str] | None:
        """deltalake's ``storage_options``: the plain options plus the keys; None if empty."""
        options = dict(self.storage_options)
        for name, secret in (("AWS_ACCESS_KEY_ID", self.access_key_id),
                             ("AWS_SECRET_ACCESS_KEY", self.secret_access_key)):
            if secret.get_secret_value():
                options[name] = secret.get_secret_value()
        return options or None


class FeastSettings(BaseModel):
    """The feature store (feature_repo/): its registry, online store and online writer.

    The offline store is DuckDB over the Delta table ``features.user_features`` in the
    lakehouse, so the batch source follows ``lakehouse.root``.
    """

    project: str = "fitstream"
    # A file registry: relative paths live under the state directory. A URI (s3://...)
    # goes to Feast as is and needs that cloud's SDK (not installed: compose shares a
    # volume instead).
    registry_path: str = "feast/registry.db"
    online_store: Literal["sqlite", "redis"] = "sqlite"
    sqlite_path: Path = Path("feast/online_store.db")
    # host:port[,db=N,ssl=true]; the password is the secret below, never in this string.
    redis_connection_string: str = "127.0.0.1:6379"
    redis_password: SecretStr = SecretStr("")
    group_id: str = "fitstream-feast-online"

    @field_validator("redis_connection_string")
    @classmethod
    def _no_password_in_connection_string(cls, value: str) -> str:
        if any(part.strip().lower().startswith("password=") for part in value.split(",")):
            raise ValueError("the Redis password goes in feast.redis_password (a secret)")
        return value

    def redis_connection(self) -> str:
        """Feast's Redis ``connection_string``, with the password when there is one."""
        password = self.redis_password.get_secret_value()
        return (f"{self.redis_connection_string},password={password}" if password
                else self.redis_connection_string)


class SparkSettings(BaseModel):
    """PySpark for the batch jobs: local threads by default, a cluster URL in production."""

    master: str = "local[2]"
    driver_memory: str = "2g"
    shuffle_partitions: int = Field(8, ge=1)
    # The standalone cluster's shared secret (spark.authenticate): a master that accepts
    # any driver runs anyone's code. Empty: no authentication (local threads need none).
    auth_secret: SecretStr = SecretStr("")


class ModelSettings(BaseModel):
    """The AI engine (models/, streams/scoring): MLflow tracking and registry, training
    splits, and the scorer.

    By default MLflow keeps runs and the registry in SQLite under the state directory and
    artifacts in a local folder; compose points ``tracking_uri`` at the MLflow server.
    """

    # Empty: ``sqlite:///<state_dir>/mlflow/mlflow.db`` (settings.mlflow_tracking_uri()).
    tracking_uri: str = ""
    # Empty: ``<state_dir>/mlflow/artifacts``; a server's own artifact store otherwise.
    artifact_root: str = ""
    experiment: str = "fitstream"
    # Registry aliases (MLflow's, not stages): a new version becomes the challenger; the
    # scorer serves the champion; `fitstream models promote` moves one to the other.
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    # The chronological holdout: the last share of weeks, after a gap of a week so that
    # a label window never straddles train and test.
    holdout_share: float = Field(0.25, gt=0, lt=1)
    seed: int = 7
    # The scorer (fitstream score).
    score_group_id: str = "fitstream-scorer"
    score_batch_size: int = Field(500, ge=1)
    # How often the scorer asks the registry whether an alias moved (reload, no restart).
    score_reload_interval_s: float = Field(10.0, gt=0)
    # How long a feature row waits for its online row to reach Feast (the online sink is
    # another consumer of the same topic); after that it is dead-lettered
    # `online_features_missing`. A row is never scored from anything but the online store.
    score_online_wait_s: float = Field(5.0, gt=0)
    score_web_port: int = Field(6068, ge=1, le=65535)


MIN_TOKEN_SECRET_CHARS = 32


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    # Peers whose X-Forwarded-For/-Proto uvicorn trusts (comma-separated IPs or CIDRs,
    # "*" for any): the balancer's, so that the client address the address rate limits
    # key on is the caller's. uvicorn's own default.
    forwarded_allow_ips: str = "127.0.0.1"
    # Tokens are HS256 JWTs whose header names the key (kid) that signed them. New tokens
    # are signed with token_secret under token_kid; token_accepted_secrets (kid -> secret)
    # holds retired keys still accepted while their tokens live out their TTL (rotation).
    # The API refuses to start with the default secret unless allow_default_token_secret.
    token_secret: SecretStr = SecretStr("fitstream-dev-secret-change-me-in-production")
    token_kid: str = Field("dev", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
    token_accepted_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("token_secret")
    @classmethod
    def _token_secret_long_enough(cls, secret: SecretStr) -> SecretStr:
        # HS256 with a short secret is guessed offline from one token. The public default
        # (44 characters) passes here; the API refuses it outside the demo (api/app.py).
        if len(secret.get_secret_value()) < MIN_TOKEN_SECRET_CHARS:
            raise ValueError(f"at least {MIN_TOKEN_SECRET_CHARS} characters")
        return secret

    @field_validator("token_accepted_secrets")
    @classmethod
    def _accepted_secrets_long_enough(cls, secrets: dict[str, SecretStr],
                                      ) -> dict[str, SecretStr]:
        short = sorted(kid for kid, secret in secrets.items()
                       if len(secret.get_secret_value()) < MIN_TOKEN_SECRET_CHARS)
        if short:
            raise ValueError(f"the secrets of {', '.join(short)}: at least "
                             f"{MIN_TOKEN_SECRET_CHARS} characters each")
        return secrets
    # User and analyst tokens cannot be revoked, so they are short-lived; device tokens
    # live long (a watch cannot sign in every day) and are revoked on the revocation topic.
    user_token_ttl_s: int = Field(12 * 3600, ge=1)
    analyst_token_ttl_s: int = Field(8 * 3600, ge=1)
    device_token_ttl_s: int = Field(365 * 24 * 3600, ge=1)
    # An API process that serves ingest waits this long at start to read the whole
    # revocation topic; until it has, device tokens get 503 (fail closed).
    revocations_load_timeout_s: float = Field(30.0, gt=0)
    # Every request body above this many bytes is refused with 413 (ingest has its own cap).
    max_body_bytes: int = Field(256 * 1024, ge=1)
    ingest_max_events: int = 1000
    ingest_max_bytes: int = 4 * 1024 * 1024
    ingest_ack_timeout_s: float = 10.0
    # Ingest refuses an event whose occurred_at is further than this ahead of the
    # server's clock (event_bounds.MAX_FUTURE_SKEW_MS): an event dated 2100 is a broken
    # or hostile device, and would make its user's later events late.
    max_future_skew_ms: int = Field(5 * 60_000, ge=0)
    page_limit_default: int = 20
    page_limit_max: int = 200
    # Read answers (leaderboards, stats) are reused this long, as their Cache-Control
    # (max-age=5) already allows clients; 0 reads the store every time.
    view_cache_ttl_s: float = Field(5.0, ge=0)
    # Boards up to this many entries are loaded whole, ranked once per TTL; bigger ones
    # are sliced in ClickHouse per request.
    ranked_board_max_rows: int = Field(20_000, ge=0)
    # Analyst SQL (POST /analytics/sql and `fitstream sql` on a server) runs with these
    # ClickHouse limits: a runaway query fails fast instead of filling the process that
    # owns the store.
    analyst_sql_max_execution_time_s: int = Field(30, ge=1)
    analyst_sql_max_result_rows: int = Field(100_000, ge=1)
    analyst_sql_max_memory_bytes: int = Field(1024 ** 3, ge=1)
    # The dashboard's pipeline health (api/pipeline_health.py) reads Kafka at most this
    # often per process, whoever asks; it lists this many of the last dead letters.
    pipeline_health_ttl_s: float = Field(3.0, ge=0)
    pipeline_health_recent_dead_letters: int = Field(20, ge=0, le=1000)


class RateLimitSettings(BaseModel):
    """Requests per verified identity (api/rate_limits.py), in the ``limits`` notation:
    ";"-separated ``N/second``, ``N/minute``... (a burst and a sustained rate); an empty
    string turns that limit off. Over a limit: 429 with Retry-After.

    Sized for real clients with room to spare: a watch syncs a batch every few seconds
    (ingest takes up to ingest_max_events per request) and catches up at most a few
    batches a second; an app polls a few views a second. A client in a loop (hundreds a
    second) is what they stop."""

    # memory:// keeps the counts in each API process (the embedded default: one process);
    # API replicas must share them: redis://host:6379/0 (the password goes below).
    storage_uri: str = "memory://"
    storage_password: SecretStr = SecretStr("")
    # fixed-window: one counter per identity and window, O(1) memory; moving-window is
    # exact but keeps a timestamp per request (N per identity).
    strategy: Literal["fixed-window", "moving-window"] = "fixed-window"
    # Per device (the device id of a verified device token).
    device: str = "20/second;600/minute"
    # Per user (the user id of a verified user or analyst token).
    user: str = "20/second;600/minute"
    # Per client address, counting only requests answered 401 (no token, a bad or
    # revoked one): verifying a token is the work an attacker can make us repeat. Over
    # it, that address gets 429 for a token not verified before (tokens in the
    # verified cache keep working: a balancer's callers may share one address).
    failed_auth: str = "10/second;300/minute"
    # Per client address, requests without a token (public reads, healthcheck). Behind
    # a balancer without api.forwarded_allow_ips every caller shares its address, so
    # this is generous; with it, it is per caller.
    anonymous: str = "50/second;1500/minute"
    # Each storage call (Redis) waits at most this long; on an error the limits are
    # skipped (fail open, logged, fitstream_rate_limit_errors_total) for storage_retry_s.
    storage_timeout_s: float = Field(0.25, gt=0, le=5)
    storage_retry_s: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _bounded_memory(self) -> RateLimitSettings:
        # limits 5.8's memory storage keeps a moving window's timestamps per key and
        # never drops idle keys: one list per client address ever seen, without bound.
        if self.strategy == "moving-window" and self.storage_uri.startswith("memory://"):
            raise ValueError("rate_limits.strategy moving-window needs a redis:// "
                             "storage_uri: in memory:// its per-address windows grow "
                             "without bound")
        return self

    @field_validator("device", "user", "failed_auth", "anonymous")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            from limits import parse_many
        except ImportError:
            # The Flink venv (requirements-flink.lock) loads these settings but serves
            # no HTTP and has no limits: the API processes check the notation.
            return value
        if value.strip():
            parse_many(value)  # ValueError names what it could not read
        return value

    @field_validator("storage_uri")
    @classmethod
    def _no_password_in_uri(cls, uri: str) -> str:
        if urlsplit(uri).password is not None:
            raise ValueError("the password goes in rate_limits.storage_password (a secret)")
        return uri


class MetricsSettings(BaseModel):
    """Where the roles without a web server of their own serve Prometheus's /metrics
    (fitstream/observability/metrics_server.py). The API serves it on its own port, the
    Faust processor on processor.web_port, the scorer on models.score_web_port."""

    # 127.0.0.1: this host only; compose sets 0.0.0.0 so that Prometheus can scrape.
    host: str = "127.0.0.1"
    sink_port: int = Field(6067, ge=0, le=65535)
    lakehouse_port: int = Field(6069, ge=0, le=65535)
    delivery_port: int = Field(6070, ge=0, le=65535)


class PrivacySettings(BaseModel):
    """Per-user data keys for crypto-shredding (fitstream/privacy/keys/): a local file
    store in the embedded default, PostgreSQL in production."""

    key_store: Literal["file", "postgres"] = "file"
    file: LocalFileKeyStoreConfig = LocalFileKeyStoreConfig()
    postgres: PostgresKeyStoreConfig = PostgresKeyStoreConfig()
    # How long a process trusts a cached key (or its absence) before asking the store.
    key_cache_ttl_s: float = Field(60.0, ge=0)


class UploadSettings(BaseModel):
    """Activity-file uploads (POST /api/v1/uploads, api/uploads.py). Both size caps
    answer 413: the decompressed one stops a gzip bomb while it inflates."""

    max_bytes: int = Field(8 * 1024 * 1024, ge=1)  # the request body, as sent
    # After gunzip. A 50,000-point TCX is about 19 MB and parses in about 100 MiB.
    max_decompressed_bytes: int = Field(32 * 1024 * 1024, ge=1)
    # Files parsed at once per API process (each takes up to a few hundred MiB and a
    # core for a second or two); more wait their turn.
    max_concurrent_parses: int = Field(2, ge=1)
    max_points: int = Field(50_000, ge=1)  # about 14 h at one point a second
    # Samples per WorkoutUpdated, as a device syncs them (the simulator syncs 5 to 20).
    samples_per_event: int = Field(10, ge=1, le=10_000)
    # A gap between two points longer than this is a pause (WorkoutPaused/Resumed).
    pause_gap_s: float = Field(60.0, gt=0)
    # The route in WorkoutCompleted keeps at most this many points (evenly spaced).
    max_route_points: int = Field(10_000, ge=2)


class TracingSettings(BaseModel):
    """OpenTelemetry traces (fitstream/observability/tracing.py): W3C ``traceparent`` from
    the ingest request through every Kafka record to the sinks. ``none`` (the embedded
    default) creates no spans, yet a record's validated traceparent is still carried to
    what is derived from it; ``console`` prints spans; ``otlp`` exports them over
    OTLP/HTTP to ``endpoint`` (production: the collector)."""

    exporter: Literal["none", "console", "otlp"] = "none"
    endpoint: str = "http://otel-collector:4318/v1/traces"
    service_name: str = "fitstream"
    # Traces kept: the API draws this ratio of its requests whatever their traceparent
    # says; the other roles follow the records' flag (tracing.sampler_for).
    sample_ratio: float = Field(1.0, ge=0, le=1)


class FitStreamSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FITSTREAM_", env_nested_delimiter="__", extra="ignore",
        # A refused value may be a secret put in the wrong field: errors do not echo it.
        hide_input_in_errors=True,
    )

    service: str = "fitstream"
    state_dir: Path = REPO_ROOT / ".state"
    log_level: str = "INFO"
    # The embedded demo and the test suite run with the well-known default token secret;
    # anything else must set api.token_secret. (Top level, so that tests replacing the
    # api section keep it.)
    allow_default_token_secret: bool = False
    kafka: KafkaSettings = KafkaSettings()
    schema_registry: SchemaRegistrySettings = SchemaRegistrySettings()
    broker: BrokerSettings = BrokerSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    processor: ProcessorSettings = ProcessorSettings()
    sink: SinkSettings = SinkSettings()
    api: ApiSettings = ApiSettings()
    uploads: UploadSettings = UploadSettings()
    notifications: NotificationSettings = NotificationSettings()
    lakehouse: LakehouseSettings = LakehouseSettings()
    spark: SparkSettings = SparkSettings()
    feast: FeastSettings = FeastSettings()
    privacy: PrivacySettings = PrivacySettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    metrics: MetricsSettings = MetricsSettings()
    models: ModelSettings = ModelSettings()
    tracing: TracingSettings = TracingSettings()
    # Where processes of one host share Prometheus samples; empty disables it.
    metrics_dir: Path | None = None

    def to_env(self) -> dict[str, str]:
        """``FITSTREAM_*`` variables that give a child process exactly these settings."""
        def plain(value: object) -> object:
            if isinstance(value, SecretStr):
                return value.get_secret_value()
            if isinstance(value, Path):
                return str(value)
            raise TypeError(f"cannot put {type(value).__name__} in the environment")

        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            key = f"{self.model_config['env_prefix']}{name.upper()}"
            env[key] = str(value) if isinstance(value, str | Path) else json.dumps(
                value, default=plain)
        return env

    @property
    def lakehouse_root(self) -> str:
        """The lakehouse directory (relative roots live under the state dir) or URI."""
        root = self.lakehouse.root
        return (root if "://" in root else str(self.resolve(Path(root)))).rstrip("/")

    def lakehouse_uri(self, table: str) -> str:
        """Where a lakehouse table (``bronze.workout_events``) lives: ``<root>/bronze/workout_events``."""
        return f"{self.lakehouse_root}/{table.replace('.', '/')}"

    def mlflow_tracking_uri(self) -> str:
        """MLflow's tracking and registry URI: the configured one, or SQLite in the state dir."""
        if self.models.tracking_uri:
            return self.models.tracking_uri
        return f"sqlite:///{self.resolve(Path('mlflow/mlflow.db'))}"

    def mlflow_artifact_root(self) -> str:
        """Where new experiments keep artifacts (ignored by a server with its own store)."""
        return self.models.artifact_root or self.resolve(Path("mlflow/artifacts")).as_uri()

    def resolve(self, path: Path) -> Path:
        """A path relative to the state directory, absolute paths unchanged."""
        return path if path.is_absolute() else self.state_dir / path


@lru_cache(maxsize=1)
def get_settings() -> FitStreamSettings:
    return FitStreamSettings()
