"""The recommender's examples and its baselines, from the completed-workout log (pure).

An example is one completed workout of a user who already had one known: its label is
that workout's kind (:func:`fitstream.domain.workout_kind.workout_kind`, an index in
KINDS), and everything about it is read as of just before it started (``lookup_at`` =
start - 1 ms): only workouts that *ended* by then are history, as for the features.

Baselines rank all 63 kinds from that history alone:

- ``most_frequent``: sports by how often the user did them (ties: SPORT_TYPES order),
  then within a sport its kinds by count (ties: KINDS order); so rank 1 is the user's
  most frequent sport with their most frequent band and intensity for it.
- ``most_recent``: the distinct kinds of the history from the latest back (latest by
  (end_time, workout_id), as the features' last_1), then the remaining kinds in the
  ``most_frequent`` order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fitstream.domain.events import SPORT_TYPES
from fitstream.domain.workout_kind import KINDS, kind_index, workout_kind
from models.evaluation import ndcg_at_k, top_k_accuracy

SPORT_OF_KIND = np.array([SPORT_TYPES.index(kind.sport) for kind in KINDS])
BASELINES = ("most_frequent", "most_recent")
TOP_K = 3


def most_frequent_ranking(history: Sequence[int]) -> list[int]:
    """All kind indices, best first, by the ``most_frequent`` rule (module doc);
    ``history`` holds the known kinds' indices, oldest first."""
    kinds = Counter(history)
    sports = Counter(int(SPORT_OF_KIND[k]) for k in history)
    return sorted(range(len(KINDS)),
                  key=lambda k: (-sports[int(SPORT_OF_KIND[k])], int(SPORT_OF_KIND[k]),
                                 -kinds[k], k))


def most_recent_ranking(history: Sequence[int]) -> list[int]:
    """All kind indices, best first, by the ``most_recent`` rule (module doc)."""
    recent = list(dict.fromkeys(reversed(history)))
    seen = set(recent)
    return recent + [k for k in most_frequent_ranking(history) if k not in seen]


def rank_of(ranking: Sequence[int], label: int) -> int:
    """The 1-based rank of ``label`` in a full ranking."""
    return list(ranking).index(label) + 1


def _summary(record: dict) -> dict:
    """A frame row as the domain reads a summary: a missing heart rate is None (pandas
    reads it as NaN, which would compare as neither easy nor moderate)."""
    heart_rate = record["avg_heart_rate"]
    missing = heart_rate is None or (isinstance(heart_rate, float) and math.isnan(heart_rate))
    return {**record, "avg_heart_rate": None if missing else float(heart_rate),
            "moving_duration_ms": int(record["moving_duration_ms"])}


def examples(workouts: pd.DataFrame) -> pd.DataFrame:
    """One row per example (module doc), ordered by (lookup_at, user_id, workout_id):
    user_id, workout_id, lookup_at (epoch ms), label_kind (KINDS index), label_sport,
    label_duration_band, label_intensity, and for each baseline its top-3 kind indices
    ``<baseline>_1..3`` and the label's rank ``<baseline>_rank``.

    ``workouts`` holds WorkoutSummary columns (silver.workouts, any order)."""
    done = workouts[(workouts["status"] == "completed") & workouts["start_time"].notna()
                    & workouts["end_time"].notna()]
    rows = []
    for user_id, mine in done.groupby("user_id", sort=True):
        records = mine.to_dict("records")
        kinds = {r["workout_id"]: kind_index(workout_kind(_summary(r))) for r in records}
        by_end = sorted(records, key=lambda r: (int(r["end_time"]), r["workout_id"]))
        known: list[int] = []
        cursor = 0
        for record in sorted(records, key=lambda r: (int(r["start_time"]), r["workout_id"])):
            lookup_at = int(record["start_time"]) - 1
            while cursor < len(by_end) and int(by_end[cursor]["end_time"]) <= lookup_at:
                known.append(kinds[by_end[cursor]["workout_id"]])
                cursor += 1
            if not known:
                continue
            label = kinds[record["workout_id"]]
            row = {"user_id": str(user_id), "workout_id": str(record["workout_id"]),
                   "lookup_at": lookup_at, "label_kind": label, "label_sport": KINDS[label].sport,
                   "label_duration_band": KINDS[label].duration_band,
                   "label_intensity": KINDS[label].intensity}
            for name, ranking in (("most_frequent", most_frequent_ranking(known)),
                                  ("most_recent", most_recent_ranking(known))):
                for rank in range(TOP_K):
                    row[f"{name}_{rank + 1}"] = ranking[rank]
                row[f"{name}_rank"] = rank_of(ranking, label)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["lookup_at", "user_id", "workout_id"]).reset_index(drop=True)


def ranking_metrics(actual: Sequence[int], ranked: np.ndarray) -> dict[str, float]:
    """top1_accuracy, ndcg_at_3 (one relevant kind, models.evaluation.ndcg_at_k) and
    sport_accuracy (the first kind's sport is the actual one's) of ranked kind indices
    (one row of at least :data:`TOP_K` per actual kind)."""
    actual, ranked = np.asarray(actual), np.asarray(ranked)[:, :TOP_K]
    return {"top1_accuracy": top_k_accuracy(actual.tolist(), ranked.tolist(), 1),
            "ndcg_at_3": ndcg_at_k(actual.tolist(), ranked.tolist(), TOP_K),
            "sport_accuracy": float(np.mean(SPORT_OF_KIND[ranked[:, 0]] == SPORT_OF_KIND[actual]))}
