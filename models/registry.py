"""The model registry: a trained version becomes the challenger; the promotion gate
moves the champion alias to it only if it beats every baseline of its run and the
current champion on the same holdout. Aliases, never stages (deprecated in MLflow 3).

The champion is scored on the challenger's holdout, logged with the challenger's run
(``holdout/holdout.parquet``: user_id, as_of, the feature columns and the labels), by
loading ``models:/NAME@champion`` as a pyfunc and scoring its predictions with the
model package's ``holdout_score``: the two versions are judged on the very same rows.
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import dataclass, field
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from fitstream.model_catalogue import ModelSpec
from fitstream.settings import FitStreamSettings
from models.tracking import mlflow_client

MODEL_ARTIFACT = "model"
HOLDOUT_ARTIFACT = "holdout/holdout.parquet"


def champion_uri(spec: ModelSpec, alias: str = "champion") -> str:
    """The URI the scorer loads: ``models:/NAME@champion``."""
    return f"models:/{spec.registered_name}@{alias}"


def register_challenger(settings: FitStreamSettings, spec: ModelSpec, run_id: str) -> str:
    """Register the run's logged model (artifact path ``model``) as a new version of
    ``spec.registered_name`` and point the challenger alias at it; returns the version."""
    client = mlflow_client(settings)
    version = mlflow.register_model(f"runs:/{run_id}/{MODEL_ARTIFACT}", spec.registered_name)
    client.set_registered_model_alias(spec.registered_name, settings.models.challenger_alias,
                                      version.version)
    return str(version.version)


@dataclass
class PromotionDecision:
    """Whether the challenger became champion, and why: one reason per comparison (and
    for a refusal without one: no challenger, already champion). ``table`` has one row
    per comparison: against, metric, theirs, challenger, beats."""

    promoted: bool
    reasons: list[str] = field(default_factory=list)
    challenger: str | None = None
    champion: str | None = None
    table: list[dict[str, Any]] = field(default_factory=list)


def _version_by_alias(client: Any, name: str, alias: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _beats(spec: ModelSpec, challenger: float, other: float) -> bool:
    return challenger < other if spec.lower_is_better else challenger > other


def score_on_holdout(settings: FitStreamSettings, spec: ModelSpec, model_uri: str,
                     run_id: str) -> float:
    """The gate metric of the model at ``model_uri`` on the holdout logged with
    ``run_id``, through the pyfunc (its signature's inputs) and the package's
    ``holdout_score``."""
    mlflow_client(settings)
    with tempfile.TemporaryDirectory() as folder:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=HOLDOUT_ARTIFACT,
                                                   dst_path=folder)
        holdout = pd.read_parquet(path)
    model = mlflow.pyfunc.load_model(model_uri)
    signature = model.metadata.get_input_schema()
    columns = signature.input_names() if signature is not None else list(holdout.columns)
    predictions = model.predict(holdout[columns])
    package = importlib.import_module(spec.package)
    return float(package.holdout_score(pd.DataFrame(predictions), holdout))


def promote(settings: FitStreamSettings, spec: ModelSpec) -> PromotionDecision:
    """The gate: the challenger's ``holdout_<metric>`` must beat every
    ``baseline_<name>_<metric>`` of its run, and the current champion (if another
    version holds the alias) scored on the challenger's holdout. Moves the champion
    alias only then; the decision says why either way."""
    client = mlflow_client(settings)
    name, metric, models = spec.registered_name, spec.gate_metric, settings.models
    challenger = _version_by_alias(client, name, models.challenger_alias)
    if challenger is None:
        return PromotionDecision(False, [f"{name} has no @{models.challenger_alias}: train one "
                                         f"first (fitstream models train {spec.key})"])
    champion = _version_by_alias(client, name, models.champion_alias)
    decision = PromotionDecision(False, challenger=str(challenger.version),
                                 champion=None if champion is None else str(champion.version))
    if champion is not None and champion.version == challenger.version:
        decision.reasons.append(f"version {challenger.version} is already @{models.champion_alias}")
        return decision
    logged = client.get_run(challenger.run_id).data.metrics
    mine = logged.get(f"holdout_{metric}")
    if mine is None:
        decision.reasons.append(f"the challenger's run logged no holdout_{metric}")
        return decision
    direction = "lower" if spec.lower_is_better else "higher"

    def compare(against: str, theirs: float) -> None:
        beats = _beats(spec, mine, theirs)
        decision.table.append({"against": against, "metric": metric, "theirs": theirs,
                               "challenger": mine, "beats": beats})
        verb = "beats" if beats else "does not beat"
        decision.reasons.append(f"challenger v{challenger.version} {metric} {mine:,.4g} {verb} "
                                f"{against} {theirs:,.4g} ({direction} is better)")

    prefix, suffix = "baseline_", f"_{metric}"
    baselines = sorted((key, value) for key, value in logged.items()
                       if key.startswith(prefix) and key.endswith(suffix))
    if not baselines:
        decision.reasons.append(f"the challenger's run logged no baseline_*_{metric}: "
                                "nothing shows it beats a naive rule")
        return decision
    for key, value in baselines:
        compare(f"baseline {key.removeprefix(prefix).removesuffix(suffix)}", value)
    if champion is not None:
        theirs = score_on_holdout(settings, spec, champion_uri(spec, models.champion_alias),
                                  challenger.run_id)
        compare(f"champion v{champion.version} (on the challenger's holdout)", theirs)
    decision.promoted = all(row["beats"] for row in decision.table)
    if decision.promoted:
        client.set_registered_model_alias(name, models.champion_alias, challenger.version)
        decision.reasons.append(f"@{models.champion_alias} moved to v{challenger.version}")
    else:
        kept = f"v{champion.version}" if champion is not None else "no version"
        decision.reasons.append(f"@{models.champion_alias} not moved (stays on {kept})")
    return decision


def model_versions(settings: FitStreamSettings, spec: ModelSpec) -> list[dict[str, Any]]:
    """Every registered version of the model, newest first: version, aliases, run id,
    created (epoch ms) and the run's metrics."""
    client = mlflow_client(settings)
    try:
        versions = client.search_model_versions(f"name = '{spec.registered_name}'")
    except MlflowException:
        return []
    rows = []
    for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        # Search results may leave aliases out (the SQL store does): ask per version.
        aliases = client.get_model_version(spec.registered_name, version.version).aliases
        rows.append({"version": str(version.version), "aliases": list(aliases),
                     "run_id": version.run_id, "created": version.creation_timestamp,
                     "metrics": dict(metrics)})
    return rows
