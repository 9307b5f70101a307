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
# # Explore the data: ClickHouse and Delta
#
# What an analyst sees of FitStream: the ClickHouse view tables, read with SQL through
# the API's analyst endpoint (`POST /api/v1/analytics/sql`; the embedded ClickHouse is
# owned by the API process), and the lakehouse's Delta tables read with `deltalake`
# (`silver.workouts`, `features.user_features`, the dead letters in
# `bronze.workout_events_dlq`).
#
# Weekly volume, pace by sport, the leaderboards and the dead-letter queue's reasons; the
# same numbers from both stores where both hold them (two sinks of one log).

# %% [markdown]
# ## Parameters
# From the `FITSTREAM_*` variables the platform's settings read (`FITSTREAM_API__PORT=8081`,
# or the JSON form `FITSTREAM_API='{"port": 8081}'`); the defaults are `make demo`'s.

# %%
import json
import os
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
API_URL = f"http://{setting('api.host', '127.0.0.1')}:{setting('api.port', 8080)}"
DATABASE = setting("clickhouse.database", "fitstream")
LAKEHOUSE = str(setting("lakehouse.root", "lakehouse"))
LAKEHOUSE = LAKEHOUSE if "://" in LAKEHOUSE else str(STATE_DIR / LAKEHOUSE)
# The project's CLI, from the kernel's environment (the app venv) or PATH.
FITSTREAM = [str(Path(sys.executable).with_name("fitstream"))]
if not Path(FITSTREAM[0]).exists():
    FITSTREAM = ["fitstream"]
print(f"state {STATE_DIR}\nAPI {API_URL}\nlakehouse {LAKEHOUSE}")

# %%
import httpx
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from deltalake import DeltaTable

# An analyst token from the CLI (signed with the API's key; valid for hours).
TOKEN = subprocess.run([*FITSTREAM, "analysts", "token", "--name", "notebook-explore"],
                       check=True, capture_output=True, text=True).stdout.strip()


def sql(statement: str) -> pd.DataFrame:
    """One read-only statement through the analyst endpoint, as a DataFrame."""
    response = httpx.post(f"{API_URL}/api/v1/analytics/sql", json={"sql": statement},
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text}")
    body = response.json()
    return pd.DataFrame(body["rows"], columns=body["columns"])


def delta(table: str) -> pd.DataFrame:
    """A lakehouse table's current snapshot (``silver.workouts`` lives at silver/workouts)."""
    return DeltaTable(f"{LAKEHOUSE}/{table.replace('.', '/')}").to_pandas()


# %% [markdown]
# ## The tables
# ClickHouse's tables are ReplacingMergeTrees: read with `FINAL` (docs/analytics.md).

# %%
sql(f"""SELECT status, count() AS workouts, uniqExact(user_id) AS users
FROM {DATABASE}.workout_summary FINAL GROUP BY status ORDER BY status""")

# %%
silver = delta("silver.workouts")
silver["start"] = pd.to_datetime(silver["start_time"], unit="ms", utc=True)
completed = silver[silver["status"] == "completed"].copy()
print(f"silver.workouts: {len(silver)} workouts, {len(completed)} completed, "
      f"{silver['user_id'].nunique()} users, {completed['start'].min():%Y-%m-%d} to "
      f"{completed['start'].max():%Y-%m-%d}")
silver.head()

# %% [markdown]
# ## Weekly volume
# Kilometres per ISO week (UTC Mondays) and sport, from ClickHouse; the same sums from
# Delta's `silver.workouts` beside them.

# %%
weekly_ch = sql(f"""SELECT toMonday(start_time) AS week, sport_type,
       sum(distance_meters) AS meters, count() AS workouts
FROM {DATABASE}.workout_summary FINAL
WHERE status = 'completed'
GROUP BY week, sport_type
ORDER BY week, sport_type""")
weekly_ch["week"] = weekly_ch["week"].astype(str)

completed["week"] = (completed["start"].dt.normalize()
                     - pd.to_timedelta(completed["start"].dt.weekday, unit="D")
                     ).dt.strftime("%Y-%m-%d")
weekly_delta = (completed.groupby(["week", "sport_type"], as_index=False)
                .agg(meters=("distance_meters", "sum"), workouts=("workout_id", "count")))

both = weekly_ch.merge(weekly_delta, on=["week", "sport_type"], how="outer",
                       suffixes=("_clickhouse", "_delta"))
weekly_km_equal = bool(
    both.notna().all().all()
    and np.allclose(both["meters_clickhouse"], both["meters_delta"], rtol=1e-9)
    and (both["workouts_clickhouse"] == both["workouts_delta"]).all())
print(f"ClickHouse and Delta agree on every week and sport: {weekly_km_equal}")

km = weekly_ch.pivot_table(index="week", columns="sport_type", values="meters",
                           aggfunc="sum", fill_value=0) / 1000
ax = km.plot.bar(stacked=True, figsize=(10, 4), title="Weekly distance by sport (km)")
ax.set_xlabel("ISO week (Monday, UTC)")
ax.set_ylabel("km")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Pace by sport
# Moving minutes per kilometre: ClickHouse's aggregate per sport, and the distribution
# over single workouts from Delta.

# %%
pace_ch = sql(f"""SELECT sport_type,
       round(sum(moving_duration_ms) / 60000 / (sum(distance_meters) / 1000), 2) AS min_per_km,
       round(avg(avg_heart_rate), 1) AS avg_heart_rate, count() AS workouts
FROM {DATABASE}.workout_summary FINAL
WHERE status = 'completed' AND distance_meters > 0
GROUP BY sport_type
ORDER BY min_per_km""")
pace_ch

# %%
moving = completed[completed["distance_meters"] > 0].copy()
moving["min_per_km"] = moving["moving_duration_ms"] / 60000 / (moving["distance_meters"] / 1000)
order = pace_ch["sport_type"].tolist()
fig, ax = plt.subplots(figsize=(10, 4))
ax.boxplot([moving.loc[moving["sport_type"] == s, "min_per_km"] for s in order],
           tick_labels=order, showfliers=False)
ax.set_yscale("log")
ax.set_ylabel("min per km (log)")
ax.set_title("Pace per workout, by sport (silver.workouts)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Leaderboards
# The all-time distance board and the last week's, from `leaderboard_entries` (ranked
# as the API ranks: more first, then who reached it first, then the user id).

# %%
all_time = sql(f"""SELECT user_id, round(distance_meters / 1000, 1) AS km, workouts
FROM {DATABASE}.leaderboard_entries FINAL
WHERE time_window = 'all' AND period = 'all' AND sport = 'all'
ORDER BY distance_meters DESC, reached_at_ms, user_id
LIMIT 10""")
last_week = sql(f"""SELECT period, user_id, round(distance_meters / 1000, 1) AS km, workouts
FROM {DATABASE}.leaderboard_entries FINAL
WHERE time_window = 'week' AND sport = 'all'
  AND period = (SELECT max(period) FROM {DATABASE}.leaderboard_entries
                WHERE time_window = 'week')
ORDER BY distance_meters DESC, reached_at_ms, user_id
LIMIT 10""")
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, board, title in ((axes[0], all_time, "All time"),
                         (axes[1], last_week, f"Week {last_week['period'].iloc[0]}")):
    ax.barh(board["user_id"][::-1], board["km"][::-1])
    ax.set_title(f"{title}: top 10 by distance (km)")
plt.tight_layout()
plt.show()
all_time

# %% [markdown]
# ## The dead-letter queue
# Every record the processor refused, with its reason, as the lakehouse keeps them.

# %%
dead = delta("bronze.workout_events_dlq")
reasons = dead.groupby("reason").size().sort_values(ascending=False).rename("records")
ax = reasons.plot.barh(figsize=(8, 3), title="Dead letters by reason")
ax.set_xlabel("records")
plt.tight_layout()
plt.show()
dead.groupby("reason").agg(records=("reason", "size"), example=("detail", "first"))

# %% [markdown]
# ## Features
# `features.user_features`: a row per completed workout, the user's training load as of
# its end (what Feast serves the models). Acute (7 days) against chronic (28 days) load:

# %%
features = delta("features.user_features")
features["as_of_time"] = pd.to_datetime(features["as_of"], unit="ms", utc=True)
fig, ax = plt.subplots(figsize=(10, 4))
for user, rows in list(features.sort_values("as_of").groupby("user_id"))[:5]:
    ax.plot(rows["as_of_time"], rows["acute_chronic_ratio"], marker=".", label=user)
ax.axhline(1.0, color="grey", linewidth=0.5)
ax.set_ylabel("acute:chronic load ratio")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
# One JSON line with the key numbers (the notebook test asserts them).

# %%
summary = {
    "notebook": "01_explore",
    "clickhouse_completed": int(sql(f"""SELECT count() AS n FROM {DATABASE}.workout_summary
        FINAL WHERE status = 'completed'""")["n"].iloc[0]),
    "delta_completed": len(completed),
    "weeks": int(weekly_ch["week"].nunique()),
    "weekly_km_equal": weekly_km_equal,
    "pace_sports": len(pace_ch),
    "board_leader": all_time["user_id"].iloc[0],
    "dlq_reasons": {reason: int(n) for reason, n in reasons.items()},
    "feature_rows": len(features),
}
print(json.dumps(summary))
