"""``fitstream score``: every completed workout's feature row scored by every champion.

The scorer is a writer on :class:`fitstream.kafka.sink_runner.SinkRunner`, which owns the
consumer of ``features.user.v1`` (each record a UserMetricsUpdated: one completed
workout's UserFeatures row): batching, the idle pause, rewind and retry, lag, and
commits, which happen only after :meth:`Scorer.write` returned, and ``write`` returns
only once every prediction and dead letter of the batch is flushed to the broker. So
it is at least once; a retried batch makes the same predictions (the same
``prediction_id``: model, version, user, features ``as_of``), which the ClickHouse
tables keep once.

Per batch:

1. Every ``score_reload_interval_s`` the registry is asked where each catalogue model's
   ``@champion`` points; a moved alias loads the new version (no restart).
2. Records are decoded with our serde; one that does not decode is dead-lettered
   ``undecodable``. Of a user's rows in the batch only the last is scored: the earlier
   ones are superseded (the online store holds one row per user, the latest), which the
   ``fitstream_scoring_rows_total{outcome="superseded"}`` counter shows.
3. Each user's online features are read through Feast (the union of the champions'
   feature services, plus ``as_of``). The online sink is another consumer of the same
   topic, so the scorer waits, up to ``score_online_wait_s``, until the online row's
   ``as_of`` reaches the record's; the vector read (possibly a newer row's) is what is
   scored and recorded, with its own ``as_of``. Never scored from the record itself:
   the online store is what serving reads, and the skew test compares it with Feast's
   point-in-time answer.
4. Each champion scores its users in one pyfunc call; its outputs become records
   (streams/scoring/predictions.py) on the model's topic, key ``user_id``.

Nothing is dropped silently and nothing crashes the loop: a row that cannot be scored
goes to ``scoring_dlq_topic`` (its original bytes, the reason in ``dlq.reason``:
``undecodable``, ``no_champion:<model>``, ``online_features_missing``, ``model_error``;
``dlq.model`` names the model), once per model it could not be scored by.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import structlog
from confluent_kafka import Producer

from feature_repo.definitions import FEATURE_VIEW
from fitstream.contracts import AvroSerde, SerdeError, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.sink_runner import Message, RunnerConfig, SinkRunner
from fitstream.model_catalogue import MODELS, ModelSpec
from fitstream.observability.metrics import (
    PREDICTIONS,
    SCORING_DEAD_LETTERS,
    SCORING_LATENCY,
    SCORING_ROWS,
)
from fitstream.settings import FitStreamSettings
from streams.scoring.predictions import (
    SUBJECTS,
    UnusableOutput,
    feature_vector,
    prediction_record,
)

log = structlog.get_logger("streams.scoring")

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

AS_OF_REF = f"{FEATURE_VIEW}:as_of"
ONLINE_POLL_S = 0.1  # between reads while waiting for the online sink

UNDECODABLE = "undecodable"
ONLINE_FEATURES_MISSING = "online_features_missing"
MODEL_ERROR = "model_error"


def no_champion(spec: ModelSpec) -> str:
    return f"no_champion:{spec.registered_name}"


# -- the champions -------------------------------------------------------------------------


@dataclass
class Champion:
    """A loaded ``@champion`` version of one model, and how its pyfunc wants its input."""

    spec: ModelSpec
    version: str
    model: Any  # mlflow.pyfunc.PyFuncModel
    input_types: dict[str, str] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.model.predict(model_input(frame, self.input_types)))


def model_input(frame: pd.DataFrame, input_types: dict[str, str]) -> pd.DataFrame:
    """The scorer's frame (``as_of`` in epoch ms, features as nullable floats) in the
    types the model's signature declares, so the pyfunc's schema enforcement accepts
    what training gave it: ``as_of`` as a UTC timestamp if it asks for a datetime, and
    integer features as integers where every row has one."""
    frame = frame.copy()
    for column, kind in input_types.items():
        if column not in frame:
            continue
        if kind == "datetime":
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
        elif kind in ("long", "integer") and frame[column].notna().all():
            frame[column] = frame[column].astype("int64" if kind == "long" else "int32")
        elif kind in ("double", "float"):
            frame[column] = frame[column].astype("float64" if kind == "double" else "float32")
    return frame


def _input_types(model: Any) -> dict[str, str]:
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return {}
    return {spec.name: str(getattr(spec.type, "name", spec.type)) for spec in schema.inputs}


class Champions:
    """Where each catalogue model's ``@champion`` points, and its loaded pyfunc.

    :meth:`refresh` asks the registry and loads what moved; a model without the alias
    (never promoted) is absent; a version that fails to load is kept as its error, so its
    rows are dead-lettered ``model_error`` rather than scored by a stale version."""

    def __init__(self, settings: FitStreamSettings,
                 specs: Sequence[ModelSpec] = tuple(MODELS.values())) -> None:
        import mlflow
        from mlflow import MlflowClient

        uri = settings.mlflow_tracking_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._alias = settings.models.champion_alias
        self.specs = list(specs)
        self.loaded: dict[str, Champion] = {}
        self.errors: dict[str, str] = {}
        self._versions: dict[str, str | None] = {}

    def _alias_version(self, spec: ModelSpec) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self._client.get_model_version_by_alias(spec.registered_name,
                                                                self._alias).version)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(exc):
                return None
            raise

    def refresh(self) -> list[str]:
        """Ask the registry; load every champion that moved. Returns what changed as
        ``name@version`` (``name@-`` for a removed alias)."""
        import mlflow

        changed = []
        for spec in self.specs:
            name = spec.registered_name
            version = self._alias_version(spec)
            if version == self._versions.get(name, "unasked"):
                continue
            self._versions[name] = version
            self.loaded.pop(name, None)
            self.errors.pop(name, None)
            changed.append(f"{name}@{version or '-'}")
            if version is None:
                continue
            try:
                model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
                self.loaded[name] = Champion(spec, version, model, _input_types(model))
            except Exception as exc:  # any model may fail to load; its rows say why
                log.exception("champion_load_failed", model=name, version=version)
                self.errors[name] = f"{name} v{version} did not load: {exc!r}"[:500]
        if changed:
            log.info("champions_changed", changed=changed)
        return changed


# -- the online features -------------------------------------------------------------------


class OnlineFeatures:
    """Users' online feature rows through Feast, by feature service."""

    def __init__(self, settings: FitStreamSettings) -> None:
        from stores.feast.store import feature_store

        self._store = feature_store(settings)
        self._refs: dict[str, list[str]] = {}

    def refs(self, service: str) -> list[str]:
        """The service's feature references (``view:feature``), from Feast's registry."""
        cached = self._refs.get(service)
        if cached is None:
            definition = self._store.get_feature_service(service, allow_cache=False)
            cached = [f"{projection.name_to_use()}:{feature.name}"
                      for projection in definition.feature_view_projections
                      for feature in projection.features]
            self._refs[service] = cached
        return cached

    def forget_services(self) -> None:
        """Read the services again on next use (a champion moved; its service may be new)."""
        self._refs.clear()

    def read(self, users: Sequence[str], refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        """user -> {bare feature name: value}, ``as_of`` included (None: no online row)."""
        wanted = list(dict.fromkeys([AS_OF_REF, *refs]))
        answer = self._store.get_online_features(
            features=wanted, entity_rows=[{"user_id": u} for u in users]).to_dict()
        return {user: {name: values[i] for name, values in answer.items()}
                for i, user in enumerate(users)}


# -- the loop ------------------------------------------------------------------------------


@dataclass
class DeadLetter:
    message: Message
    reason: str
    detail: str
    model: str = ""


@dataclass
class Row:
    """The last feature row of a user in the batch."""

    message: Message
    user_id: str
    as_of: int
    received_at: float  # the record's time, seconds (latency is measured from it)


class ScoringNotDelivered(RuntimeError):
    """The broker did not take every output of a batch: the runner reads it again."""


class Scorer:
    """The scorer as a sink-runner writer (see the module docstring)."""

    name = "scorer"

    def __init__(self, settings: FitStreamSettings, *, champions: Champions | None = None,
                 online: OnlineFeatures | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        models = settings.models
        self.topics = [settings.kafka.features_topic]
        self.group_id = models.score_group_id
        self._serde = AvroSerde(registry_from_settings(settings.schema_registry))
        self.champions = champions or Champions(settings)
        self.online = online or OnlineFeatures(settings)
        self._producer = Producer(producer_config(settings.kafka, **{"linger.ms": 5}))
        self._clock = clock
        self._reload_every_s = models.score_reload_interval_s
        self._online_wait_s = models.score_online_wait_s
        self._reloaded_at = float("-inf")
        self._stop = threading.Event()
        self._failures: list[str] = []
        self.rows_scored = 0
        self.predictions = 0
        self.dead_letters = 0
        # Feature row -> predictions handed to the broker, seconds (bench and tests).
        self.latencies_s: deque[float] = deque(maxlen=100_000)

    def setup(self, stop: threading.Event) -> None:
        self._stop = stop
        self._reload()

    def _reload(self) -> None:
        if self.champions.refresh():
            self.online.forget_services()
        self._reloaded_at = time.monotonic()

    def write(self, batch: list[Message]) -> int:
        if time.monotonic() - self._reloaded_at >= self._reload_every_s:
            self._reload()
        dead: list[DeadLetter] = []
        rows = self._last_rows(batch, dead)
        outputs: list[tuple[str, str, bytes]] = []
        if rows:
            self._score(rows, outputs, dead)
        self._deliver(outputs, dead)
        done = self._clock()
        for row in rows.values():
            self.latencies_s.append(done - row.received_at)
            SCORING_LATENCY.observe(max(done - row.received_at, 0.0))
        self.rows_scored += len(rows)
        return len(outputs)

    def _last_rows(self, batch: list[Message], dead: list[DeadLetter]) -> dict[str, Row]:
        rows: dict[str, Row] = {}
        for message in batch:
            try:
                _, record = self._serde.decode(message.value())
                user_id, as_of = str(record["user_id"]), int(record["as_of"])
            except (SerdeError, KeyError, TypeError, ValueError) as exc:
                dead.append(DeadLetter(message, UNDECODABLE, str(exc)))
                continue
            if user_id in rows:
                SCORING_ROWS.labels(outcome="superseded").inc()
            kind, stamp = message.timestamp()
            received = stamp / 1000 if kind and stamp > 0 else self._clock()
            rows[user_id] = Row(message, user_id, as_of, received)
        return rows

    def _score(self, rows: dict[str, Row], outputs: list[tuple[str, str, bytes]],
               dead: list[DeadLetter]) -> None:
        champions: list[Champion] = []
        refs: dict[str, list[str]] = {}
        for spec in self.champions.specs:
            name = spec.registered_name
            champion = self.champions.loaded.get(name)
            failed = self.champions.errors.get(name)
            if champion is not None:
                try:
                    refs[name] = self.online.refs(spec.feature_service)
                except Exception as exc:  # an unknown service: the model cannot score
                    failed = f"feature service {spec.feature_service}: {exc!r}"[:500]
                else:
                    champions.append(champion)
                    continue
            for row in rows.values():
                dead.append(DeadLetter(row.message, MODEL_ERROR if failed else no_champion(spec),
                                       failed or f"{name} has no @champion", name))
        if not champions:
            SCORING_ROWS.labels(outcome="unscored").inc(len(rows))
            return
        vectors = self._online_rows(rows, sorted({r for v in refs.values() for r in v}))
        ready = {}
        for user, row in rows.items():
            vector = vectors.get(user, {})
            online_as_of = vector.get("as_of")
            if online_as_of is None or int(online_as_of) < row.as_of:
                seen = "no online row" if online_as_of is None else f"online as_of {online_as_of}"
                for champion in champions:
                    dead.append(DeadLetter(
                        row.message, ONLINE_FEATURES_MISSING,
                        f"{seen} < row as_of {row.as_of} after {self._online_wait_s}s",
                        champion.spec.registered_name))
                continue
            ready[user] = vector
        SCORING_ROWS.labels(outcome="scored").inc(len(ready))
        for champion in champions:
            self._predict(champion, refs[champion.spec.registered_name], rows, ready,
                          outputs, dead)

    def _online_rows(self, rows: dict[str, Row], refs: list[str]) -> dict[str, dict[str, Any]]:
        """Each user's online row, read until its as_of reaches the record's or the wait
        ends (the online sink consumes the same topic, maybe behind the scorer)."""
        deadline = time.monotonic() + self._online_wait_s
        pending = list(rows)
        found: dict[str, dict[str, Any]] = {}
        while True:
            for user, vector in self.online.read(pending, refs).items():
                found[user] = vector
            pending = [u for u in pending if found[u].get("as_of") is None
                       or int(found[u]["as_of"]) < rows[u].as_of]
            if not pending or time.monotonic() >= deadline or self._stop.wait(ONLINE_POLL_S):
                return found

    def _predict(self, champion: Champion, refs: list[str], rows: dict[str, Row],
                 ready: dict[str, dict[str, Any]], outputs: list[tuple[str, str, bytes]],
                 dead: list[DeadLetter]) -> None:
        spec = champion.spec
        if not ready:
            return
        names = [ref.split(":", 1)[1] for ref in refs]
        users = list(ready)
        vectors = [feature_vector(ready[u], names) for u in users]
        as_ofs = [int(ready[u]["as_of"]) for u in users]
        frame = pd.DataFrame({"user_id": users, "as_of": as_ofs,
                              **{n: [v[n] for v in vectors] for n in names}})
        frame[names] = frame[names].astype("float64")
        try:
            predicted = champion.predict(frame)
            if len(predicted) != len(users):
                raise UnusableOutput(f"{len(predicted)} output rows for {len(users)} inputs")
        except Exception as exc:  # the model's own failure: its rows are dead-lettered
            log.warning("model_failed", model=spec.registered_name, version=champion.version,
                        rows=len(users), error=repr(exc))
            dead.extend(DeadLetter(rows[u].message, MODEL_ERROR, repr(exc)[:500],
                                   spec.registered_name) for u in users)
            return
        topic = str(getattr(self._settings.kafka, spec.topic_setting))
        subject = SUBJECTS[spec.kind]
        scored_at = int(self._clock() * 1000)
        for i, (user, output) in enumerate(zip(users, predicted.to_dict("records"),
                                               strict=True)):
            try:
                record = prediction_record(spec, champion.version, user, as_ofs[i],
                                           vectors[i], output, scored_at)
                value = self._serde.encode(subject, record)
            except (UnusableOutput, SerdeError) as exc:
                dead.append(DeadLetter(rows[user].message, MODEL_ERROR, str(exc)[:500],
                                       spec.registered_name))
                continue
            outputs.append((topic, user, value))
            PREDICTIONS.labels(model=spec.registered_name, version=champion.version).inc()

    def _deliver(self, outputs: list[tuple[str, str, bytes]], dead: list[DeadLetter]) -> None:
        """Produce the predictions and dead letters and wait until the broker has every
        one; raises ScoringNotDelivered otherwise (nothing is committed then)."""
        self._failures = []
        for topic, key, value in outputs:
            self._produce(topic, key.encode(), value, None)
        dlq = self._settings.kafka.scoring_dlq_topic
        for letter in dead:
            message = letter.message
            headers = [
                ("dlq.reason", letter.reason.encode()),
                ("dlq.detail", letter.detail.encode()[:1000]),
                ("dlq.model", letter.model.encode()),
                ("dlq.source.topic", message.topic().encode()),
                ("dlq.source.partition", str(message.partition()).encode()),
                ("dlq.source.offset", str(message.offset()).encode()),
                ("dlq.value", b"original"),
            ]
            self._produce(dlq, message.key(), message.value(), headers)
            SCORING_DEAD_LETTERS.labels(reason=letter.reason.split(":")[0],
                                        model=letter.model).inc()
        if dead:
            log.info("rows_dead_lettered", count=len(dead),
                     reasons=sorted({d.reason for d in dead}))
        remaining = self._producer.flush(30)
        if remaining or self._failures:
            raise ScoringNotDelivered(f"{remaining} outputs unflushed; failures: "
                                      f"{self._failures[:3]}")
        self.predictions += len(outputs)
        self.dead_letters += len(dead)

    def _produce(self, topic: str, key: bytes | None, value: bytes | None,
                 headers: list[tuple[str, bytes]] | None) -> None:
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers,
                                       on_delivery=self._delivered)
                return
            except BufferError:  # the producer's queue is full: let it drain
                self._producer.poll(0.1)

    def _delivered(self, error: Any, _message: Any) -> None:
        if error is not None:
            self._failures.append(str(error))

    def close(self) -> None:
        self._producer.flush(30)


def scorer_runner(settings: FitStreamSettings, scorer: Scorer) -> SinkRunner:
    """The scorer on the sink runner: ``score_batch_size`` rows a batch, the sinks' batch
    wait and commit interval, under ``score_group_id`` (replicas share the partitions)."""
    return SinkRunner(scorer, settings.kafka, RunnerConfig(
        group_id=scorer.group_id, batch_max_rows=settings.models.score_batch_size,
        batch_max_wait_s=settings.sink.batch_max_wait_s,
        commit_interval_s=settings.sink.commit_interval_s))


def run_scorer(settings: FitStreamSettings) -> None:
    """``fitstream score``: the scorer until interrupted, with its Prometheus metrics on
    ``models.score_web_port`` (``/metrics``, bound to ``metrics.host``)."""
    from fitstream.kafka.sink_runner import RunnerThreads
    from fitstream.observability.metrics_server import serve_role_metrics

    serve_role_metrics(settings, "score")
    threads = RunnerThreads([scorer_runner(settings, Scorer(settings))])
    threads.start()
    try:
        while threads.all_alive():
            threading.Event().wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        threads.stop(timeout_s=30)
