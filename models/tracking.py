"""MLflow for these settings: the client (tracking and registry at one URI), the
experiment, and one training run per model.

By default tracking and the registry live in SQLite under the state directory and
artifacts in a local folder (``settings.mlflow_tracking_uri()``,
``settings.mlflow_artifact_root()``); compose points them at the MLflow server. MLflow's
URIs are process-wide, so every entry point here sets them again: a process that
trains against two state directories (the tests) never writes to the wrong one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# MLflow 3 phones home unless told not to; these machines reach package registries only.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
from mlflow import MlflowClient

from fitstream.model_catalogue import ModelSpec
from fitstream.settings import FitStreamSettings


def mlflow_client(settings: FitStreamSettings) -> MlflowClient:
    """The client of these settings; MLflow's process-wide tracking and registry URIs
    and the active experiment are set to them, and the experiment is created (its
    artifacts under ``settings.mlflow_artifact_root()``) if it does not exist."""
    uri = settings.mlflow_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = settings.models.experiment
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=settings.mlflow_artifact_root())
    mlflow.set_experiment(name)
    return client


@contextmanager
def training_run(settings: FitStreamSettings, spec: ModelSpec, params: dict[str, Any],
                 ) -> Iterator[mlflow.ActiveRun]:
    """A run of the experiment for training ``spec``: tagged with the model's registered
    name, key and feature service, ``params`` logged. Ends FINISHED, or FAILED when the
    body raises."""
    mlflow_client(settings)
    tags = {"model": spec.registered_name, "model_key": spec.key,
            "feature_service": spec.feature_service, "gate_metric": spec.gate_metric}
    with mlflow.start_run(run_name=f"{spec.key}-train", tags=tags) as run:
        if params:
            mlflow.log_params(params)
        yield run
