"""The notebooks (notebooks/*.py, jupytext percent format) executed top to bottom on a
small fleet streamed through the real embedded stack, as a data scientist would run
them against `make demo`: broker, processor, the API with its ClickHouse sinks, and
the lakehouse role (Delta and Feast online). The notebooks see only FITSTREAM_*
variables, the CLI, the HTTP API, Delta, Feast and MLflow.

Each notebook ends with a cell that prints one JSON line ``{"notebook": ..., ...}``:
its key results, asserted here against what the test reads itself (the DLQ topic, the
fleet's tally, the Delta tables).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer
from deltalake import DeltaTable

from cli.dev.local_stack import LocalStack, wait_for_api
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import producer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.positions import LogPosition, behind
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec
from fitstream.simulator.producer import produce_fleet
from stores.clickhouse.tables import sink_groups
from stores.delta.tables import SILVER_WORKOUTS
from tests.conftest import isolated, running_broker
from tests.harness import wait_until
from tests.integration.test_pipeline_e2e import read_topic

pytestmark = pytest.mark.e2e

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ORDER = ("01_explore", "02_forecast", "03_recommender", "04_champion")

START = 1_792_368_000_000  # Monday 2026-10-19 00:00 UTC: six whole ISO weeks
# Six weeks: the chronological split keeps the last quarter of the weeks, after a week's
# gap, for the holdout; few users keep the stream (about 4k records per user) short.
SPEC = FleetSpec(users=8, days=42, seed=31, start_ms=START,
                 chaos=ChaosKnobs(duplicate=0.01, out_of_order=0.01, late=0.02,
                                  malformed=0.003))


def _event(kind: str, seq: int, at: int, user: str, workout: str, **payload) -> dict:
    return {"event_id": f"00000000-0000-4000-8000-{workout[-4:]}{seq:08d}", "type": kind,
            "occurred_at": at, "user_id": user, "workout_id": workout,
            "device_id": "device-notebook", "seq": seq, **payload}


# Poison a day before the fleet, so the DLQ has more reasons than the simulator's
# malformed records: a Resumed while active, and a workout whose start never comes
# (dead-lettered once the user's later events move their clock past the timeout).
POISON_AT = START - 86_400_000 + 3_600_000
POISON = [
    _event("WorkoutStarted", 0, POISON_AT, "user-00001", "wk-nb-illegal-0001",
           sport_type="rowing", start_time=POISON_AT,
           location={"latitude": 52.5, "longitude": 13.4}, device_model="test"),
    _event("WorkoutResumed", 1, POISON_AT + 60_000, "user-00001", "wk-nb-illegal-0001"),
    _event("WorkoutCompleted", 2, POISON_AT + 600_000, "user-00001", "wk-nb-illegal-0001",
           end_time=POISON_AT + 600_000, duration_sec=600, distance_meters=2000.0,
           calories_burned=80.0, route_coordinates=[]),
    _event("WorkoutPaused", 1, POISON_AT, "user-00000", "wk-nb-ghost-0002"),
    _event("WorkoutResumed", 2, POISON_AT + 1000, "user-00000", "wk-nb-ghost-0002"),
]
GARBAGE = b"\x00\x00\x00\x00\x01not avro at all"


def produce_poison(settings, serde: AvroSerde) -> None:
    producer = Producer(producer_config(settings.kafka))
    topic = settings.kafka.events_topic
    producer.produce(topic, key=b"user-00002", value=GARBAGE)
    for event in POISON:
        producer.produce(topic, key=event["user_id"].encode(),
                         value=serde.encode(f"fitstream.workouts.{event['type']}", event))
    assert producer.flush(30) == 0


def delta_rows(settings, table: str) -> list[dict]:
    uri = settings.lakehouse_uri(table)
    return DeltaTable(uri).to_pyarrow_table().to_pylist() if DeltaTable.is_deltatable(uri) \
        else []


def wait_for_views(settings, stack: LocalStack) -> None:
    """Until the processor, every ClickHouse sink, every lakehouse writer and the Feast
    online writer have the whole log (committed offsets and Delta transaction versions:
    progress, never a fixed sleep)."""
    from sinks.delta.topic_sink import lakehouse_writers, records_behind

    position = LogPosition(settings.kafka)
    writers = lakehouse_writers(settings)
    for writer in writers:
        writer.prepare()  # idempotent: the role may not have created its tables yet
    features, online = settings.kafka.features_topic, settings.feast.group_id
    lag: dict = {}

    def everything_caught_up() -> bool:
        lag.clear()
        lag.update(behind(position, settings.kafka.events_topic, settings.processor.app_id,
                          [*sink_groups(settings), (features, online)]))
        if not lag:
            lag["lakehouse"] = records_behind(writers, position.ends)
        return not any(lag.values())

    try:
        wait_until(everything_caught_up, "the processor, the sinks, Delta and Feast online "
                   "to hold the whole log", progress=lambda: dict(lag), alive=stack.check,
                   poll_s=1)
    finally:
        position.close()


def kernel_manager(tmp: Path):
    """A kernel of this interpreter (the app venv), whatever kernelspecs the machine has:
    a kernelspec written for sys.executable, found by its own spec manager."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp / "kernels" / "fitstream-venv"
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "FitStream (app venv)", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(tmp / "kernels")])
    return KernelManager(kernel_name="fitstream-venv", kernel_spec_manager=specs)


def execute(name: str, env: dict[str, str], tmp: Path) -> dict:
    """Run notebooks/<name>.py top to bottom in a fresh kernel; returns its summary line.
    A failing cell raises CellExecutionError with the cell and its traceback."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = NotebookClient(notebook, timeout=600, km=kernel_manager(tmp),
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=env)
    (tmp / f"{name}.ipynb").write_text(json.dumps(notebook))  # kept for a failing run's eyes
    summaries = [json.loads(line) for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.get("outputs", ()) if output.get("name") == "stdout"
                 for line in output["text"].splitlines()
                 if line.startswith('{"notebook"')]
    assert [s["notebook"] for s in summaries] == [name], summaries
    return summaries[0]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The fleet streamed, the training set built, then the four notebooks in order."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    with running_broker(tmp_path_factory.mktemp("nb-broker")) as broker:
        state = tmp_path_factory.mktemp("nb")
        settings = isolated(broker, state, "nb")
        settings = settings.model_copy(update={
            "lakehouse": settings.lakehouse.model_copy(update={"batch_max_wait_s": 0.5}),
            "sink": settings.sink.model_copy(update={"commit_interval_s": 1.0})})
        stack = LocalStack()
        processor = stack.start(settings, "processor", "process")
        stack.start(settings, "api", "serve")
        lakehouse = stack.start(settings, "lakehouse", "lakehouse")
        try:
            wait_for_api(settings, stack)
            serde = AvroSerde(registry_from_settings(settings.schema_registry))
            produce_poison(settings, serde)
            tally = produce_fleet(settings, SPEC, serde)
            timings["produced"] = time.monotonic() - started
            wait_for_views(settings, stack)
            timings["views"] = time.monotonic() - started
            # The notebooks need the API (analyst SQL) only: two idle consumers less on
            # the cores the trainers use.
            processor.stop()
            lakehouse.stop()
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")},
                   **settings.to_env(), "MPLBACKEND": "Agg", "MLFLOW_DISABLE_TELEMETRY": "true",
                   "PYTHONHASHSEED": "0"}
            subprocess.run([sys.executable, "-m", "cli.main", "jobs", "training-set"],
                           env=env, check=True, capture_output=True, timeout=600)
            timings["training_set"] = time.monotonic() - started
            summaries = {}
            for name in ORDER:
                summaries[name] = execute(name, env, state)
                timings[name] = time.monotonic() - started
            dlq = Counter(read_headers(m.headers())["dlq.reason"]
                          for m in read_topic(settings, settings.kafka.dlq_topic))
            yield {"settings": settings, "tally": tally, "summaries": summaries, "dlq": dlq,
                   "silver": delta_rows(settings, SILVER_WORKOUTS), "timings": timings}
        finally:
            stack.stop()
            print(f"notebook test timings (s since start): {timings}")


def finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def test_explore_reads_clickhouse_and_delta_alike(executed):
    summary = executed["summaries"]["01_explore"]
    completed = sum(r["status"] == "completed" for r in executed["silver"])
    # The fleet's completions plus the poison's one completed (illegal-resume) workout.
    assert completed == executed["tally"].completed + 1
    assert summary["clickhouse_completed"] == summary["delta_completed"] == completed
    # Weekly volume in ClickHouse (SQL endpoint) equals Delta's silver.workouts, week by week.
    assert summary["weekly_km_equal"] is True and summary["weeks"] >= 6
    assert summary["pace_sports"] >= 2
    # The all-time board's leader is the user with the most metres in silver.
    metres = Counter()
    for row in executed["silver"]:
        if row["status"] == "completed":
            metres[row["user_id"]] += row["distance_meters"]
    assert summary["board_leader"] == metres.most_common(1)[0][0]
    # The DLQ's reasons in Delta are the dead-letter topic's, record for record.
    assert summary["dlq_reasons"] == dict(executed["dlq"])
    assert {"malformed", "illegal_transition", "unknown_workout"} <= set(executed["dlq"])
    assert summary["feature_rows"] > completed / 2


def test_forecast_notebook_reloads_the_challenger_on_feasts_point_in_time_features(executed):
    summary = executed["summaries"]["02_forecast"]
    assert finite(summary["holdout_mae"]) and summary["holdout_mae"] > 0
    # Every baseline of the issue, in the same run: last 7 days, 28 days / 4, user's mean.
    assert len(summary["baselines_mae"]) >= 3
    assert all(finite(v) and v > 0 for v in summary["baselines_mae"].values())
    # The holdout's features, pulled again from Feast at each row's as_of, are the ones
    # the run logged; the pyfunc loaded by URI scores them as the run did.
    assert summary["feast_equals_holdout"] is True
    assert summary["reloaded_mae"] == pytest.approx(summary["holdout_mae"], rel=1e-6)
    assert summary["holdout_rows"] > 0 and summary["weeks"] >= 1
    assert summary["plots"] >= 1


def test_recommender_notebook_shows_the_loss_curve_and_the_baselines(executed):
    summary = executed["summaries"]["03_recommender"]
    for value in summary["holdout"].values():
        assert finite(value) and 0 <= value <= 1
    assert set(summary["baselines"]) >= {"most_frequent", "most_recent"}
    for metrics in summary["baselines"].values():
        assert all(finite(v) and 0 <= v <= 1 for v in metrics.values())
    # One point per epoch, at least two epochs.
    assert summary["loss_curves"] and min(summary["loss_curves"].values()) >= 2
    assert summary["reloaded_top1"] == pytest.approx(summary["holdout"]["top1_accuracy"])
    assert summary["holdout_rows"] > 0


def test_champion_notebook_promotes_by_the_gate_and_online_equals_offline(executed):
    from fitstream.model_catalogue import by_registered_name

    summary = executed["summaries"]["04_champion"]
    trained = {executed["summaries"][n]["model"]: executed["summaries"][n]["version"]
               for n in ("02_forecast", "03_recommender")}
    assert set(summary["decisions"]) >= set(trained)
    for model, version in trained.items():
        decision = summary["decisions"][model]
        assert decision["challenger"] == version and decision["champion_before"] is None
        spec = by_registered_name(model)
        metrics = summary["champions"][model]["metrics"][spec.gate_metric]
        model_value = metrics.pop("model")
        assert finite(model_value) and metrics and all(finite(v) for v in metrics.values())
        # No champion before: the gate promotes exactly when the challenger beats every
        # baseline of its run.
        beats = all(model_value < v if spec.lower_is_better else model_value > v
                    for v in metrics.values())
        assert (decision["champion_after"] == version) is beats, (model, decision, metrics)
    skew = summary["online_vs_offline"]
    assert skew["differing"] == [] and skew["all_equal"] is True
    assert skew["users"] == 5
    assert {"weekly_distance_forecast_v1", "next_workout_v1"} <= set(skew["services"])
    assert summary["scored_users"] == 5
