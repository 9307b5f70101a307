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
# # The next-workout recommender: train and evaluate
#
# A small PyTorch network ranks the 63 workout kinds (sport × duration band ×
# intensity) for a user's next workout, from their last workouts and features (Feast
# feature service `next_workout_v1`). It is judged on a chronological split against
# two baselines: the user's most frequent sport, and their most recent workout.
#
# Trained with the CLI (`fitstream models train recommender`), read back through the
# MLflow client: the loss curve from the run's per-epoch metrics, top-1 accuracy and
# NDCG@3 beside the baselines, and the challenger's pyfunc on the logged holdout.

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
MODEL = "next_workout"  # the registered model (fitstream/model_catalogue.py)
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
from IPython.display import Image, display
from mlflow.tracking import MlflowClient

# %% [markdown]
# ## Train

# %%
fitstream("models", "train", "recommender").check_returncode()

# %% [markdown]
# ## The run

# %%
mlflow.set_tracking_uri(TRACKING_URI)
mlflow.set_registry_uri(TRACKING_URI)
client = MlflowClient(TRACKING_URI, TRACKING_URI)
version = client.get_model_version_by_alias(MODEL, CHALLENGER)
run = client.get_run(version.run_id)
print(f"{MODEL} version {version.version} (@{CHALLENGER}), run {run.info.run_id}")
pd.Series(run.data.params, name="value").to_frame()

# %% [markdown]
# ## The loss curve
# Every metric the run logged once per epoch (its history has more than one step).

# %%
curves = {}
for key in run.data.metrics:
    history = client.get_metric_history(run.info.run_id, key)
    if len(history) > 1:
        curves[key] = pd.Series({m.step: m.value for m in history}).sort_index()
loss_curves = {k: v for k, v in curves.items() if "loss" in k}
fig, ax = plt.subplots(figsize=(8, 4))
for key, curve in loss_curves.items():
    ax.plot(curve.index, curve.values, label=key)
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy")
ax.set_title("Recommender training curve")
ax.legend()
plt.tight_layout()
plt.show()
pd.DataFrame(loss_curves).tail()

# %% [markdown]
# ## Top-1 accuracy and NDCG@3 beside the baselines

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
ax = table[[m for m in ("top1_accuracy", "ndcg_at_3") if m in table]].plot.bar(
    figsize=(8, 4), title="Holdout: the network against the baselines", rot=0)
plt.tight_layout()
plt.show()
table

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
# ## The challenger's pyfunc on the logged holdout
# Loaded by URI; its top-ranked kind against what the user did next.

# %%
holdout = pd.read_parquet(mlflow.artifacts.download_artifacts(
    run_id=run.info.run_id, artifact_path="holdout/holdout.parquet", tracking_uri=TRACKING_URI))
challenger = mlflow.pyfunc.load_model(f"models:/{MODEL}@{CHALLENGER}")
inputs = [c.name for c in challenger.metadata.get_input_schema().inputs]
ranked = challenger.predict(holdout[inputs])
hit = ((ranked["rec_1_sport"] == holdout["label_sport"])
       & (ranked["rec_1_duration_band"] == holdout["label_duration_band"])
       & (ranked["rec_1_intensity"] == holdout["label_intensity"]))
top1 = float(hit.mean())
print(f"top-1 accuracy of the loaded challenger: {top1:.3f} "
      f"(the run logged {metrics.get('holdout_top1_accuracy', float('nan')):.3f})")
pd.concat([holdout[["user_id", "label_sport", "label_duration_band", "label_intensity"]],
           ranked[["rec_1_sport", "rec_1_duration_band", "rec_1_intensity", "rec_1_score"]]],
          axis=1).head(10)

# %%
confusion = pd.crosstab(holdout["label_sport"], ranked["rec_1_sport"],
                        rownames=["did"], colnames=["recommended first"])
confusion

# %% [markdown]
# ## Summary

# %%
summary = {
    "notebook": "03_recommender",
    "model": MODEL, "version": version.version, "run_id": run.info.run_id,
    "holdout": {m: metrics[f"holdout_{m}"] for m in ("top1_accuracy", "ndcg_at_3")},
    "baselines": {b: {m: metrics.get(f"baseline_{b}_{m}") for m in ("top1_accuracy", "ndcg_at_3")}
                  for b in baselines},
    "loss_curves": {k: len(v) for k, v in loss_curves.items()},
    "reloaded_top1": top1,
    "holdout_rows": len(holdout),
    "plots": len(plots),
}
print(json.dumps(summary))
