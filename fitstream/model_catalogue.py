"""The AI engine's models, one entry each: what they are called in the MLflow registry,
which Feast feature service feeds them, what their pyfunc returns, and how the promotion
gate judges them.

The trainers (``models/``) and the scorer (``streams/scoring``) both read this catalogue
and never each other, so a model is added here once and both sides agree on its name,
its features and its outputs.

A model's pyfunc takes a DataFrame with ``user_id``, ``as_of`` and one column per feature
of its service (the bare feature names, no view prefix) and returns one row per input
row with exactly :attr:`ModelSpec.outputs` as columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ModelSpec:
    """One model of the catalogue.

    ``key`` is the CLI's short name (``fitstream models train forecast``);
    ``registered_name`` the MLflow registered model (``models:/NAME@champion``);
    ``feature_service`` the Feast feature service whose features the model reads, online
    and offline alike; ``outputs`` the pyfunc's output columns; ``gate_metric`` the holdout
    metric the promotion gate compares (logged as ``holdout_<metric>`` for the model and
    ``baseline_<name>_<metric>`` for each baseline), ``lower_is_better`` its direction;
    ``topic_setting`` the KafkaSettings field of the topic its predictions go to.
    """

    key: str
    registered_name: str
    feature_service: str
    package: str
    outputs: tuple[str, ...]
    gate_metric: str
    lower_is_better: bool
    topic_setting: str
    kind: Literal["forecast", "race_time", "recommendation"]


RACE_DISTANCES_M = {"5k": 5000.0, "10k": 10000.0, "half_marathon": 21097.5}
"""The race distances the race-time model predicts, by name."""

RECOMMENDATIONS = 3
"""How many ranked recommendations the recommender returns per user."""

FORECAST = ModelSpec(
    key="forecast", registered_name="weekly_distance_forecast",
    feature_service="weekly_distance_forecast_v1", package="models.forecast",
    outputs=("predicted_distance_m",), gate_metric="mae", lower_is_better=True,
    topic_setting="forecasts_topic", kind="forecast")
RACE_TIME = ModelSpec(
    key="race", registered_name="race_time", feature_service="race_time_v1",
    package="models.race_time",
    outputs=tuple(f"predicted_{name}_s" for name in RACE_DISTANCES_M),
    gate_metric="mape", lower_is_better=True, topic_setting="race_predictions_topic",
    kind="race_time")
NEXT_WORKOUT = ModelSpec(
    key="recommender", registered_name="next_workout", feature_service="next_workout_v1",
    package="models.recommender",
    outputs=tuple(f"rec_{rank}_{field}" for rank in range(1, RECOMMENDATIONS + 1)
                  for field in ("sport", "duration_band", "intensity", "score")),
    gate_metric="ndcg_at_3", lower_is_better=False,
    topic_setting="recommendations_topic", kind="recommendation")

MODELS: dict[str, ModelSpec] = {spec.key: spec for spec in (FORECAST, RACE_TIME, NEXT_WORKOUT)}
"""Every model, by its CLI key, in the order the demo trains them."""


def by_registered_name(name: str) -> ModelSpec:
    """The spec of a registered model name; KeyError names the known ones."""
    for spec in MODELS.values():
        if spec.registered_name == name:
            return spec
    raise KeyError(f"no model {name!r}; known: {', '.join(s.registered_name for s in MODELS.values())}")
