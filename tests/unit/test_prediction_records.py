"""Prediction records (streams/scoring/predictions.py): deterministic ids, the feature
vector as the contract carries it, every catalogue model's output into its contract
(encoded and decoded with our serde), and unusable outputs refused."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.model_catalogue import FORECAST, MODELS, NEXT_WORKOUT, RACE_TIME
from fitstream.settings import FitStreamSettings
from stores.clickhouse.tables import (
    FIRST_SCORED_BASE,
    forecast_columns,
    recommendation_columns,
)
from streams.scoring.predictions import (
    SUBJECTS,
    UnusableOutput,
    feature_vector,
    prediction_id,
    prediction_record,
)
from streams.scoring.scorer import model_input

SERDE = AvroSerde(registry_from_settings(FitStreamSettings().schema_registry))
AS_OF = 1_796_083_200_000
ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
features = st.dictionaries(
    st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
    st.none() | st.integers(-(2**52), 2**52) | st.floats(allow_nan=True, allow_infinity=False),
    max_size=12)


@given(ids, ids, ids, st.integers(0, 2**62))
def test_a_prediction_id_depends_on_exactly_model_version_user_and_as_of(name, version, user,
                                                                         as_of):
    same = prediction_id(name, version, user, as_of)
    assert same == prediction_id(name, version, user, as_of)
    assert same != prediction_id(name, version + "1", user, as_of)
    assert same != prediction_id(name, version, user + "x", as_of)
    assert same != prediction_id(name, version, user, as_of + 1)


@given(features)
def test_the_feature_vector_is_nullable_doubles_in_the_services_order(row):
    names = [*sorted(row), "absent"]
    vector = feature_vector(row, names)
    assert list(vector) == names
    assert vector["absent"] is None
    for name in row:
        value = row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            assert vector[name] is None
        else:
            assert vector[name] == float(value) and isinstance(vector[name], float)


def output_of(spec, values):
    return dict(zip(spec.outputs, values, strict=True))


RECOMMENDED = output_of(NEXT_WORKOUT, ["running", "30_to_60_min", "easy", 0.5,
                                       "cycling", "over_60_min", "moderate", 0.3,
                                       "running", "under_30_min", "hard", 0.2])
OUTPUTS = {
    FORECAST.key: output_of(FORECAST, [23_456.5]),
    RACE_TIME.key: output_of(RACE_TIME, [1500.0, float("nan"), 7000.25]),
    NEXT_WORKOUT.key: RECOMMENDED,
}


@pytest.mark.parametrize("key", list(MODELS))
def test_every_models_output_is_a_record_of_its_contract(key):
    spec = MODELS[key]
    record = prediction_record(spec, "3", "user-a", AS_OF, {"distance_7d_m": 12.5,
                                                             "best_5k_s_90d": None},
                               OUTPUTS[key], AS_OF + 250)
    subject, decoded = SERDE.decode(SERDE.encode(SUBJECTS[spec.kind], record))
    assert subject == SUBJECTS[spec.kind]
    assert decoded == record
    assert record["prediction_id"] == prediction_id(spec.registered_name, "3", "user-a", AS_OF)
    assert (record["model_name"], record["model_version"]) == (spec.registered_name, "3")
    assert record["features"] == {"distance_7d_m": 12.5, "best_5k_s_90d": None}
    if spec is FORECAST:
        assert (record["horizon_days"], record["predicted_distance_m"]) == (7, 23_456.5)
    elif spec is RACE_TIME:
        assert (record["predicted_5k_s"], record["predicted_10k_s"],
                record["predicted_half_marathon_s"]) == (1500.0, None, 7000.25)
    else:
        assert record["recommendations"] == [
            {"rank": 1, "sport": "running", "duration_band": "30_to_60_min",
             "intensity": "easy", "score": 0.5},
            {"rank": 2, "sport": "cycling", "duration_band": "over_60_min",
             "intensity": "moderate", "score": 0.3},
            {"rank": 3, "sport": "running", "duration_band": "under_30_min",
             "intensity": "hard", "score": 0.2}]


@pytest.mark.parametrize(("spec", "output", "why"), [
    (FORECAST, {"predicted_distance_m": float("nan")}, "not a number"),
    (FORECAST, {"predicted_distance_m": float("inf")}, "not a number"),
    (FORECAST, {}, "no column 'predicted_distance_m'"),
    (RACE_TIME, {"predicted_5k_s": 1.0}, "no column 'predicted_10k_s'"),
    (NEXT_WORKOUT, {**RECOMMENDED, "rec_1_sport": None, "rec_2_sport": None,
                    "rec_3_sport": None}, "ranked nothing"),
])
def test_an_unusable_output_is_refused_with_its_reason(spec, output, why):
    with pytest.raises(UnusableOutput, match=why):
        prediction_record(spec, "1", "u", AS_OF, {}, output, AS_OF)


def test_rows_keep_the_earliest_scoring_and_the_ranked_lists_in_rank_order():
    first = prediction_record(FORECAST, "1", "u", AS_OF, {"a": 1.0, "b": None},
                              OUTPUTS["forecast"], AS_OF + 10)
    replayed = {**first, "scored_at": AS_OF + 99}
    columns = forecast_columns([first, replayed])
    assert columns["first_scored"] == [FIRST_SCORED_BASE - AS_OF - 10,
                                       FIRST_SCORED_BASE - AS_OF - 99]
    assert columns["first_scored"][0] > columns["first_scored"][1]  # the first one wins
    assert columns["feature_names"] == [["a", "b"]] * 2
    assert columns["feature_values"] == [[1.0, None]] * 2
    shuffled = prediction_record(NEXT_WORKOUT, "1", "u", AS_OF, {}, RECOMMENDED, AS_OF)
    shuffled["recommendations"].reverse()
    assert recommendation_columns([shuffled])["sports"] == [["running", "cycling", "running"]]


def test_the_model_input_takes_the_types_its_signature_declares():
    frame = pd.DataFrame({"user_id": ["a", "b"], "as_of": [AS_OF, AS_OF + 1],
                          "workouts_7d": [3.0, 4.0], "acute": [None, 1.5],
                          "best": [None, None]}).astype({"acute": "float64"})
    typed = model_input(frame, {"as_of": "datetime", "workouts_7d": "long",
                                "acute": "double", "best": "long"})
    assert typed["as_of"].tolist() == [pd.Timestamp(AS_OF, unit="ms", tz="UTC"),
                                       pd.Timestamp(AS_OF + 1, unit="ms", tz="UTC")]
    assert typed["workouts_7d"].dtype == "int64" and typed["workouts_7d"].tolist() == [3, 4]
    assert typed["acute"].dtype == "float64"
    assert typed["best"].isna().all()  # a long with nulls stays as it was
    assert model_input(frame, {})["as_of"].tolist() == [AS_OF, AS_OF + 1]
