"""A user's achievements: every rule of the catalogue with the user's progress (public)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from api.auth import UserIdPath
from api.caching import conditional_json
from api.dependencies import Store
from api.errors import ErrorBody
from fitstream.domain.achievements import CATALOGUE, achievement_id
from stores.clickhouse import queries


class Achievement(BaseModel):
    id: str
    rule_id: str
    type: str
    title: str
    user_id: str
    progress: float
    achieved_at: datetime | None


class UserAchievementList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "user-1", "unlocked": 1, "achievements": [
            {"id": "user-1:run-5k", "rule_id": "run-5k", "type": "single_distance",
             "title": "5 km run", "user_id": "user-1", "progress": 1.0,
             "achieved_at": "2026-11-30T07:41:30Z"}]}]})

    user_id: str
    unlocked: int
    achievements: list[Achievement]


def achievement_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["achievements"])

    @router.get("/users/{user_id}/achievements", response_model=UserAchievementList,
                responses={400: {"model": ErrorBody}})
    def get_user_achievements(user_id: UserIdPath, request: Request, store: Store) -> Response:
        """Every rule in catalogue order; a rule never approached shows progress 0."""
        rows = {r["rule_id"]: r for r in queries.achievement_progress(store, user_id)}
        items = []
        for rule in CATALOGUE:
            row = rows.get(rule.rule_id, {})
            achieved = row.get("achieved_at_ms")
            items.append(Achievement(
                id=achievement_id(user_id, rule.rule_id), rule_id=rule.rule_id,
                type=rule.kind.value, title=rule.title, user_id=user_id,
                progress=row.get("progress", 0.0),
                achieved_at=None if achieved is None else datetime.fromtimestamp(
                    achieved / 1000, UTC)))
        return conditional_json(request, UserAchievementList(
            user_id=user_id, achievements=items,
            unlocked=sum(a.achieved_at is not None for a in items)))

    return router
