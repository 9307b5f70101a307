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
# # The weekly distance forecast: train and evaluate
#
# The next 7 days' distance per user (XGBoost), trained from
# `features.weekly_distance_training` through Feast with the feature service
# `weekly_distance_forecast_v1`, on a chronological split, against naive baselines in
# the same run. Here as a data scientist works with the project:
#
# 1. train with the CLI (`fitstream models train forecast`): a tracked MLflow run and a
#    registered version with the alias `@challenger`;
# 2. read the run with the MLflow client: the model's holdout metrics beside every
#    baseline's, and the plots it logged;
# 3. load the challenger's pyfunc by its `models:/` URI, pull the holdout's features
#    from Feast (`get_historical_features`, the same feature service, point in time) and
#    look at the errors week by week.

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
CHALLENGER = setting("models.challenger_alias", "challenger")
MODEL = "weekly_distance_forecast"  # the registered model (fitstream/model_catalogue.py)
SERVICE = "weekly_distance_forecast_v1"
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
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import yaml
from feast import FeatureStore, RepoConfig
from IPython.display import Image, display
from mlflow.tracking import MlflowClient


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


def millis(values: pd.Series) -> pd.Series:
    """Epoch milliseconds from epoch-ms integers or timestamps."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("int64")
    return pd.to_datetime(values, utc=True).astype("datetime64[ms, UTC]").astype("int64")


# %% [markdown]
# ## Train
# The CLI builds the point-in-time training set from Feast, splits it by whole weeks,
# fits the model and the baselines, logs everything to MLflow and registers the version.

# %%
fitstream("models", "train", "forecast").check_returncode()

# %% [markdown]
# ## The run, through the MLflow client

# %%
mlflow.set_tracking_uri(TRACKING_URI)
mlflow.set_registry_uri(TRACKING_URI)
client = MlflowClient(TRACKING_URI, TRACKING_URI)
version = client.get_model_version_by_alias(MODEL, CHALLENGER)
run = client.get_run(version.run_id)
print(f"{MODEL} version {version.version} (@{CHALLENGER}), run {run.info.run_id}")
pd.Series(run.data.params, name="value").to_frame()

# %% [markdown]
# The model's holdout metrics (`holdout_<metric>`) beside every baseline's
# (`baseline_<name>_<metric>`), one column per metric:

# %%
metrics = run.data.metrics
# The metrics that the model and at least one baseline have (not holdout_rows and such).
names = sorted({key.removeprefix("holdout_") for key in metrics if key.startswith("holdout_")
                and any(k.startswith("baseline_") and k.endswith(key.removeprefix("holdout"))
                        for k in metrics)})
baselines = sorted({key.removeprefix("baseline_").rsplit(f"_{metric}", 1)[0]
                    for key in metrics for metric in names
                    if key.startswith("baseline_") and key.endswith(f"_{metric}")})
table = pd.DataFrame(
    {metric: [metrics.get(f"holdout_{metric}")]
     + [metrics.get(f"baseline_{b}_{metric}") for b in baselines] for metric in names},
    index=["model", *[f"baseline: {b}" for b in baselines]])
table

# %%
best_baseline_mae = min(metrics[f"baseline_{b}_mae"] for b in baselines
                        if f"baseline_{b}_mae" in metrics)
change = metrics["holdout_mae"] / best_baseline_mae - 1
print(f"holdout MAE {metrics['holdout_mae']:,.0f} m, the best baseline's {best_baseline_mae:,.0f} m: "
      f"{change:+.1%} ({'meets' if change <= -0.15 else 'misses'} the issue's target of -15% "
      "or lower)")

# %% [markdown]
# What the run recorded about its data: the feature service, its feature references and
# the training set's digest.

# %%
{key: value for key, value in {**run.data.params, **run.data.tags}.items()
 if any(word in key for word in ("feature", "digest", "service"))}

# %% [markdown]
# The plots the run logged:

# %%
def artifact_paths(run_id: str, path: str | None = None) -> list[str]:
    paths = []
    for item in client.list_artifacts(run_id, path):
        paths += artifact_paths(run_id, item.path) if item.is_dir else [item.path]
    return paths


plots = [p for p in artifact_paths(run.info.run_id) if p.endswith(".png")]
for path in plots:
    print(path)
    display(Image(filename=mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path=path, tracking_uri=TRACKING_URI)))

# %% [markdown]
# ## The challenger on the holdout, with features from Feast
# The run logged its holdout (`holdout/holdout.parquet`: user, `as_of`, features,
# label). Its features are pulled again here with Feast's point-in-time lookup of the
# same feature service: they must be the ones the model was evaluated on.

# %%
holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(
    run_id=run.info.run_id, artifact_path="holdout/holdout.parquet", tracking_uri=TRACKING_URI))
label = next(c for c in holdout.columns if c.startswith("label"))
print(f"{len(holdout)} holdout rows, {holdout['user_id'].nunique()} users, label {label}")

store = feature_store()
service = store.get_feature_service(SERVICE)
feature_names = [f.name for projection in service.feature_view_projections
                 for f in projection.features]
# Each row was looked up at its snapshot (UTC midnight); ``as_of`` is the feature row's.
looked_up_at = next(c for c in ("snapshot_at", "lookup_at", "as_of") if c in holdout)
entities = pd.DataFrame({
    "user_id": holdout["user_id"].astype(str),
    "event_timestamp": pd.to_datetime(millis(holdout[looked_up_at]), unit="ms", utc=True),
    "row": np.arange(len(holdout))})
from_feast = (store.get_historical_features(entity_df=entities, features=service).to_df()
              .sort_values("row").reset_index(drop=True))


def same(a: pd.Series, b: pd.Series) -> bool:
    a, b = a.astype("float64").to_numpy(), b.astype("float64").to_numpy()
    return bool(np.array_equal(np.isnan(a), np.isnan(b))
                and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-9, atol=0))


differing = [n for n in feature_names if not same(from_feast[n], holdout[n])]
feast_equals_holdout = not differing
print(f"Feast's point-in-time features equal the logged holdout's: {feast_equals_holdout}"
      + (f" (differ: {differing})" if differing else ""))

# %%
challenger = mlflow.pyfunc.load_model(f"models:/{MODEL}@{CHALLENGER}")
# The signature takes the features as float64 (Feast returns counts as int64).
model_input = pd.concat([holdout[["user_id", "as_of"]].reset_index(drop=True),
                         from_feast[feature_names].astype("float64")], axis=1)
predicted = challenger.predict(model_input)["predicted_distance_m"].to_numpy()
actual = holdout[label].to_numpy(dtype="float64")
mae = float(np.mean(np.abs(predicted - actual)))
print(f"MAE of the loaded challenger on Feast's features: {mae:,.1f} m "
      f"(the run logged {metrics['holdout_mae']:,.1f} m)")

# %% [markdown]
# ## Errors by week
# The holdout's weeks (UTC Mondays of the snapshots), the model against the two baselines that
# need nothing but the features: the last 7 days, and the last 28 days divided by 4.

# %%
as_of = pd.to_datetime(millis(holdout[looked_up_at]), unit="ms", utc=True)
frame = pd.DataFrame({
    "week": (as_of.dt.normalize() - pd.to_timedelta(as_of.dt.weekday, unit="D")
             ).dt.strftime("%Y-%m-%d"),
    "model": np.abs(predicted - actual),
    "last 7 days": np.abs(from_feast["distance_7d_m"].to_numpy(dtype="float64") - actual),
    "28 days / 4": np.abs(from_feast["distance_28d_m"].to_numpy(dtype="float64") / 4 - actual),
})
by_week = frame.groupby("week").agg(["mean"]).droplevel(1, axis=1)
by_week["rows"] = frame.groupby("week").size()
ax = by_week.drop(columns="rows").plot(marker="o", figsize=(9, 4),
                                       title="Holdout MAE by week (m)")
ax.set_xlabel("week of the snapshot")
plt.tight_layout()
plt.show()

fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(actual / 1000, predicted / 1000, s=8, alpha=0.6)
top = max(actual.max(), predicted.max()) / 1000
ax.plot([0, top], [0, top], color="grey", linewidth=0.5)
ax.set_xlabel("actual next 7 days (km)")
ax.set_ylabel("predicted (km)")
plt.tight_layout()
plt.show()
by_week

# %% [markdown]
# ## Summary

# %%
summary = {
    "notebook": "02_forecast",
    "model": MODEL, "version": version.version, "run_id": run.info.run_id,
    "holdout_mae": metrics["holdout_mae"],
    "baselines_mae": {b: metrics[f"baseline_{b}_mae"] for b in baselines
                      if f"baseline_{b}_mae" in metrics},
    "reloaded_mae": mae,
    "feast_equals_holdout": feast_equals_holdout,
    "holdout_rows": len(holdout),
    "weeks": len(by_week),
    "plots": len(plots),
}
print(json.dumps(summary))
