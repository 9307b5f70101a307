"""Prediction records from a model's pyfunc output: what the scorer produces.

A prediction is a record of one contract (``fitstream.predictions.Forecast``,
``RacePrediction`` or ``Recommendation``, by the model's ``kind`` in the catalogue)
carrying the model's registered name and version, the ``as_of`` of the online feature row
it read and that feature vector itself, so anyone can check it against Feast's
point-in-time answer (the skew test) and against a later model.

``prediction_id`` is a function of model name, version, user and ``features_as_of`` only:
a replay, a retried batch or a second scorer replica that reads the same online row
makes the same prediction, which the ClickHouse tables keep once.

Pure: no I/O here, so the scorer's loop (streams/scoring/scorer.py) stays thin and this is
unit-tested with hypothesis (tests/unit/test_prediction_records.py).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fitstream.contracts import subjects
from fitstream.domain.features import LABEL_HORIZON_DAYS
from fitstream.model_catalogue import RACE_DISTANCES_M, RECOMMENDATIONS, ModelSpec

# A fixed namespace: prediction ids must be the same in every process and release.
PREDICTION_NAMESPACE = uuid.UUID("6f1d3a52-4b0e-5c8f-9a51-0c7e2d9b8f11")

SUBJECTS = {"forecast": subjects.FORECAST, "race_time": subjects.RACE_PREDICTION,
            "recommendation": subjects.RECOMMENDATION}
"""The contract of each model kind's predictions."""

RECOMMENDATION_FIELDS = ("sport", "duration_band", "intensity", "score")


class UnusableOutput(ValueError):
    """A pyfunc output row the contract cannot carry (a missing column, a NaN forecast,
    an empty recommendation): the row is dead-lettered ``model_error``."""


def prediction_id(model_name: str, model_version: str, user_id: str, features_as_of: int) -> str:
    """Deterministic: the same model version scoring the same user's row at the same
    ``as_of`` is the same prediction."""
    return str(uuid.uuid5(PREDICTION_NAMESPACE,
                          f"{model_name}/{model_version}/{user_id}/{features_as_of}"))


def _number(value: Any) -> float | None:
    """A feature or output value as the contracts carry it: a float, or None for a
    missing value (None, NaN, pandas' NA)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # pandas.NA and friends
    return None if math.isnan(number) else number


def feature_vector(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, float | None]:
    """The features the model read, by bare name, as nullable doubles (the contract's
    ``features`` map). Integer features become floats: exact below 2**53."""
    return {name: _number(row.get(name)) for name in names}


def _required(output: Mapping[str, Any], column: str) -> Any:
    if column not in output:
        raise UnusableOutput(f"the model's output has no column {column!r}")
    return output[column]


def _required_number(output: Mapping[str, Any], column: str) -> float:
    value = _number(_required(output, column))
    if value is None or math.isinf(value):
        raise UnusableOutput(f"{column} is {output[column]!r}, not a number")
    return value


def kind_fields(spec: ModelSpec, output: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's own fields of one output row of ``spec``'s pyfunc (its
    ``spec.outputs`` columns); raises UnusableOutput."""
    if spec.kind == "forecast":
        return {"horizon_days": LABEL_HORIZON_DAYS,
                "predicted_distance_m": _required_number(output, "predicted_distance_m")}
    if spec.kind == "race_time":
        fields = {}
        for name in RACE_DISTANCES_M:
            value = _number(_required(output, f"predicted_{name}_s"))
            fields[f"predicted_{name}_s"] = (
                None if value is None or math.isinf(value) else value)
        return fields
    if spec.kind == "recommendation":
        ranked = []
        for rank in range(1, RECOMMENDATIONS + 1):
            sport = _required(output, f"rec_{rank}_sport")
            if sport is None or (isinstance(sport, float) and math.isnan(sport)):
                continue  # fewer kinds than places: the list is shorter
            ranked.append({
                "rank": rank, "sport": str(sport),
                "duration_band": str(_required(output, f"rec_{rank}_duration_band")),
                "intensity": str(_required(output, f"rec_{rank}_intensity")),
                "score": _required_number(output, f"rec_{rank}_score")})
        if not ranked:
            raise UnusableOutput("the recommender ranked nothing")
        return {"recommendations": ranked}
    raise UnusableOutput(f"unknown model kind {spec.kind!r}")


def prediction_record(spec: ModelSpec, model_version: str, user_id: str, features_as_of: int,
                      features: Mapping[str, float | None], output: Mapping[str, Any],
                      scored_at: int) -> dict[str, Any]:
    """One prediction of the contract ``SUBJECTS[spec.kind]``; raises UnusableOutput."""
    return {
        "prediction_id": prediction_id(spec.registered_name, model_version, user_id,
                                       features_as_of),
        "user_id": user_id,
        "model_name": spec.registered_name,
        "model_version": str(model_version),
        "features_as_of": int(features_as_of),
        "scored_at": int(scored_at),
        "features": dict(features),
        **kind_fields(spec, output),
    }
