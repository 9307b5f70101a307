"""A user's predictions from the AI engine (owner only): the weekly distance forecast with
the race-time prediction, and the ranked next-workout recommendations.

The scorer (``fitstream score``) writes them when a workout completes; each answer names
the model and version that made it and the ``as_of`` of the features it read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import PathOwner
from api.caching import PRIVATE_VIEW, conditional_json
from api.dependencies import Store
from api.errors import ApiError, ErrorBody
from stores.clickhouse import queries

_MODEL_EXAMPLE = {"model_version": "3", "features_as_of": "2026-11-30T07:41:30Z",
                  "scored_at": "2026-11-30T07:41:33Z"}


class ModelRef(BaseModel):
    """Which model made a prediction, and from which features."""

    model_name: str = Field(description="The registered model (MLflow).")
    model_version: str = Field(description="The registered version that scored.")
    features_as_of: datetime = Field(description="The as_of of the feature row it read.")
    scored_at: datetime


class DistanceForecast(ModelRef):
    horizon_days: int = Field(description="The days after features_as_of it covers.")
    predicted_distance_m: float


class RaceTimes(ModelRef):
    predicted_5k_s: float | None
    predicted_10k_s: float | None
    predicted_half_marathon_s: float | None


class UserForecast(BaseModel):
    """The latest forecast and race-time prediction; either is null until its model has
    scored the user (404 while neither has)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "user_id": "user-1",
        "forecast": {**_MODEL_EXAMPLE, "model_name": "weekly-distance", "horizon_days": 7,
                     "predicted_distance_m": 32100.0},
        "race_times": {**_MODEL_EXAMPLE, "model_name": "race-time", "predicted_5k_s": 1690.0,
                       "predicted_10k_s": 3530.0, "predicted_half_marathon_s": 7850.0}}]})

    user_id: str
    forecast: DistanceForecast | None
    race_times: RaceTimes | None


class RecommendedWorkout(BaseModel):
    rank: int = Field(description="1 is the best.")
    sport: str
    duration_band: str = Field(description="under_30_min, 30_to_60_min or over_60_min.")
    intensity: str = Field(description="easy, moderate or hard.")
    score: float


class UserRecommendations(ModelRef):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_MODEL_EXAMPLE, "model_name": "next-workout", "user_id": "user-1",
        "recommendations": [{"rank": 1, "sport": "running", "duration_band": "30_to_60_min",
                             "intensity": "easy", "score": 0.81}]}]})

    user_id: str
    recommendations: list[RecommendedWorkout]


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _model_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {"model_name": row["model_name"], "model_version": row["model_version"],
            "features_as_of": _at(row["features_as_of_ms"]), "scored_at": _at(row["scored_at_ms"])}


def prediction_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/users/{user_id}", tags=["predictions"])
    errors: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (400, 401, 403, 404)}

    @router.get("/forecast", response_model=UserForecast, responses=errors)
    def get_forecast(user_id: PathOwner, request: Request, store: Store) -> Response:
        """The user's latest weekly distance forecast and race-time prediction; 404 until
        a model has scored them."""
        forecast = queries.latest_forecast(store, user_id)
        race = queries.latest_race_prediction(store, user_id)
        if forecast is None and race is None:
            raise ApiError(404, "not_found", f"no forecast for user {user_id} yet")
        return conditional_json(request, UserForecast(
            user_id=user_id,
            forecast=None if forecast is None else DistanceForecast(
                **_model_ref(forecast), horizon_days=forecast["horizon_days"],
                predicted_distance_m=forecast["predicted_distance_m"]),
            race_times=None if race is None else RaceTimes(
                **_model_ref(race), predicted_5k_s=race["predicted_5k_s"],
                predicted_10k_s=race["predicted_10k_s"],
                predicted_half_marathon_s=race["predicted_half_marathon_s"])),
            PRIVATE_VIEW)

    @router.get("/recommendations", response_model=UserRecommendations, responses=errors)
    def get_recommendations(user_id: PathOwner, request: Request, store: Store) -> Response:
        """The user's latest ranked next-workout recommendations, best first; 404 until
        the recommender has scored them."""
        row = queries.latest_recommendations(store, user_id)
        if row is None:
            raise ApiError(404, "not_found", f"no recommendations for user {user_id} yet")
        ranked = [RecommendedWorkout(rank=i + 1, sport=sport, duration_band=band,
                                     intensity=intensity, score=score)
                  for i, (sport, band, intensity, score) in enumerate(zip(
                      row["sports"], row["duration_bands"], row["intensities"], row["scores"],
                      strict=True))]
        return conditional_json(request, UserRecommendations(
            **_model_ref(row), user_id=user_id, recommendations=ranked), PRIVATE_VIEW)

    return router
