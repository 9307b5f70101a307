# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Champions: the promotion gate, and online against offline
#
# 1. `fitstream models promote NAME` for every registered model with a challenger: the
#    alias `@champion` moves only if the challenger beats every baseline of its run and
#    the current champion on the challenger's holdout; the CLI says why.
# 2. Each champion's holdout metrics beside its baselines.
# 3. No training/serving skew: for a few users, the features Feast serves online (what
#    the scorer reads) equal `get_historical_features` at the online row's `as_of` (what
#    the trainers read), for every feature service.

# %% [markdown]
# ## Parameters
# From the `FITSTREAM_*` variables the platform's settings read; defaults are `make demo`'s.

# %%
import json
import os
import re
import subprocess
import sys
from pathlib import Path


def setting(name: str, default):
    """``section.key`` from FITSTREAM_SECTION__KEY or the JSON in FITSTREAM_SECTION; a
    bare ``name`` from FITSTREAM_NAME."""
    section, _, key = name.partition(".")
    if not key:
        return os.environ.get(f"FITSTREAM_{section.upper()}", default)
    flat = os.environ.get(f"FITSTREAM_{section.upper()}__{key.upper()}")
    if flat is not None:
        return flat
    return json.loads(os.environ.get(f"FITSTREAM_{section.upper()}") or "{}").get(key, default)


STATE_DIR = Path(setting("state_dir", "../.state")).resolve()
TRACKING_URI = (setting("models.tracking_uri", "")
                or f"sqlite:///{STATE_DIR / 'mlflow' / 'mlflow.db'}")
CHAMPION = setting("models.champion_alias", "champion")
CHALLENGER = setting("models.challenger_alias", "challenger")
SAMPLE_USERS = 5
FITSTREAM = [str(Path(sys.executable).with_name("fitstream"))]
if not Path(FITSTREAM[0]).exists():
    FITSTREAM = ["fitstream"]
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def fitstream(*args: str) -> subprocess.CompletedProcess:
    """Run the project's CLI and print what it said, without the progress bars' redraws."""
    done = subprocess.run([*FITSTREAM, *args], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "COLUMNS": "110"})
    for line in ANSI.sub("", done.stdout + done.stderr).splitlines():
        if line.strip() and not any(mark in line for mark in "━╺╸⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"):
            print(line)
    return done
print(f"state {STATE_DIR}\nMLflow {TRACKING_URI}")

# %%
import math

import mlflow
import numpy as np
import pandas as pd
import yaml
from feast import FeatureStore, RepoConfig
from IPython.display import display
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

mlflow.set_tracking_uri(TRACKING_URI)
mlflow.set_registry_uri(TRACKING_URI)
client = MlflowClient(TRACKING_URI, TRACKING_URI)


def alias_version(model: str, alias: str):
    try:
        return client.get_model_version_by_alias(model, alias)
    except MlflowException:
        return None


def feature_store() -> FeatureStore:
    """The project's Feast repo (feature_repo/feature_store.yaml) pointed at this state
    directory's registry and online store."""
    repo = Path("../feature_repo").resolve()
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    config.update(
        project=setting("feast.project", config["project"]),
        registry=str(STATE_DIR / setting("feast.registry_path", "feast/registry.db")),
        online_store={"type": "sqlite", "path": str(
            STATE_DIR / setting("feast.sqlite_path", "feast/online_store.db"))})
    return FeatureStore(repo_path=str(repo), config=RepoConfig(repo_path=repo, **config))


# %% [markdown]
# ## Promote
# Every registered model that has a challenger goes through the gate.

# %%
models = sorted(m.name for m in client.search_registered_models())
decisions = {}
for model in models:
    challenger = alias_version(model, CHALLENGER)
    if challenger is None:
        print(f"{model}: no @{CHALLENGER}, nothing to promote")
        continue
    before = alias_version(model, CHAMPION)
    print(f"$ fitstream models promote {model}")
    promoted = fitstream("models", "promote", model)
    after = alias_version(model, CHAMPION)
    decisions[model] = {
        "challenger": challenger.version,
        "champion_before": before.version if before else None,
        "champion_after": after.version if after else None,
        "exit_code": promoted.returncode}
pd.DataFrame(decisions).T

# %% [markdown]
# ## Each champion beside its baselines
# The holdout metrics of the run that produced the champion (or, where the gate refused
# every version so far, the challenger's, marked so).

# %%
def metric_table(run) -> pd.DataFrame:
    metrics = run.data.metrics
    names = sorted({k.removeprefix("holdout_") for k in metrics if k.startswith("holdout_")
                    and any(b.startswith("baseline_") and b.endswith(k.removeprefix("holdout"))
                            for b in metrics)})
    baselines = sorted({k.removeprefix("baseline_").rsplit(f"_{m}", 1)[0]
                        for k in metrics for m in names
                        if k.startswith("baseline_") and k.endswith(f"_{m}")})
    return pd.DataFrame(
        {m: [metrics.get(f"holdout_{m}")] + [metrics.get(f"baseline_{b}_{m}") for b in baselines]
         for m in names},
        index=["model", *[f"baseline: {b}" for b in baselines]])


champions = {}
for model in decisions:
    shown = alias_version(model, CHAMPION) or alias_version(model, CHALLENGER)
    role = CHAMPION if alias_version(model, CHAMPION) else f"{CHALLENGER} (not promoted)"
    table = metric_table(client.get_run(shown.run_id))
    champions[model] = {"alias": role, "version": shown.version,
                        "metrics": {m: {row: table.loc[row, m] for row in table.index}
                                    for m in table.columns}}
    print(f"\n{model} v{shown.version} @{role}")
    display(table)

# %% [markdown]
# ## Online against offline
# For a few users: the online vector of each feature service (Feast's online store, as
# the scorer reads it), and the point-in-time lookup in the offline store (Delta, as the
# trainers read it) at the online row's `as_of`. Every value must be equal.

# %%
store = feature_store()
users = sorted(store.get_online_features(features=["user_features:as_of"], entity_rows=[
    {"user_id": f"user-{i:05d}"} for i in range(50)]).to_df().dropna()["user_id"])[:SAMPLE_USERS]
print(f"users: {users}")


def plain(value):
    """None for a missing value (NaN offline, None online), else a float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


comparisons = []
for service in sorted(store.list_feature_services(), key=lambda s: s.name):
    refs = [f"{p.name_to_use()}:{f.name}" for p in service.feature_view_projections
            for f in p.features]
    names = [ref.split(":", 1)[1] for ref in refs]
    online = store.get_online_features(features=["user_features:as_of", *refs],
                                       entity_rows=[{"user_id": u} for u in users]).to_df()
    entities = pd.DataFrame({"user_id": online["user_id"], "event_timestamp": pd.to_datetime(
        online["as_of"].astype("int64"), unit="ms", utc=True)})
    offline = store.get_historical_features(entity_df=entities, features=[
        "user_features:as_of", *refs]).to_df().set_index("user_id")
    for row in online.to_dict("records"):
        served = {n: plain(row[n]) for n in ["as_of", *names]}
        looked_up = {n: plain(offline.loc[row["user_id"], n]) for n in ["as_of", *names]}
        differing = [n for n in served if served[n] != looked_up[n]]
        comparisons.append({"service": service.name, "user_id": row["user_id"],
                            "as_of": int(row["as_of"]), "features": len(names),
                            "equal": not differing, "differing": differing})
comparison = pd.DataFrame(comparisons)
print(f"online == offline for every user and service: {bool(comparison['equal'].all())}")
comparison

# %% [markdown]
# ## What the champion serves
# The forecast champion (or challenger) scoring the online vectors: what `fitstream
# score` emits for these users now.

# %%
forecast_model = "weekly_distance_forecast"
scored = None
if forecast_model in decisions:
    uri_alias = CHAMPION if alias_version(forecast_model, CHAMPION) else CHALLENGER
    pyfunc = mlflow.pyfunc.load_model(f"models:/{forecast_model}@{uri_alias}")
    service = store.get_feature_service("weekly_distance_forecast_v1")
    names = [f.name for p in service.feature_view_projections for f in p.features]
    online = store.get_online_features(features=["user_features:as_of", *[
        f"{p.name_to_use()}:{f.name}" for p in service.feature_view_projections
        for f in p.features]], entity_rows=[{"user_id": u} for u in users]).to_df()
    # The signature takes as_of as int64 ms and the features as float64.
    scored = pyfunc.predict(online[["user_id", "as_of", *names]].astype(
        {"as_of": "int64", **dict.fromkeys(names, "float64")}))
    scored.insert(0, "user_id", online["user_id"])
scored

# %% [markdown]
# ## Summary

# %%
summary = {
    "notebook": "04_champion",
    "decisions": decisions,
    "champions": champions,
    "online_vs_offline": {
        "compared": len(comparison), "users": comparison["user_id"].nunique(),
        "services": sorted(comparison["service"].unique()),
        "all_equal": bool(comparison["equal"].all()),
        "differing": comparison.loc[~comparison["equal"]].to_dict("records")},
    "scored_users": 0 if scored is None else len(scored),
}
print(json.dumps(summary, default=float))
