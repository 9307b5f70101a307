"""The Feast FeatureStore of these settings, and registering the repo's definitions.

Every process builds its store here (never from feature_repo/feature_store.yaml), so the
online store (SQLite or Redis), the registry and the Delta batch source follow
FitStreamSettings like every other component.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from feast import FeatureStore, RepoConfig

from fitstream.settings import FitStreamSettings
from stores.feast.offline_store import OFFLINE_STORE_TYPE
from stores.feast.online_stores import online_store_backend

REPO_DIR = Path(__file__).resolve().parents[2] / "feature_repo"

# Feast logs a usage banner and a warning per registry refresh; ours are structured.
logging.getLogger("feast").setLevel(logging.WARNING)
os.environ.setdefault("FEAST_USAGE", "False")


def repo_config(settings: FitStreamSettings) -> RepoConfig:
    feast = settings.feast
    registry = feast.registry_path
    if "://" not in registry:
        path = settings.resolve(Path(registry))
        path.parent.mkdir(parents=True, exist_ok=True)
        registry = str(path)
    return RepoConfig(
        project=feast.project, provider="local", registry=registry,
        online_store=online_store_backend(settings).config(settings),
        offline_store={"type": OFFLINE_STORE_TYPE,
                       "storage_options": settings.lakehouse.object_store_options() or {}},
        entity_key_serialization_version=3,
        repo_path=REPO_DIR)


def feature_store(settings: FitStreamSettings) -> FeatureStore:
    return FeatureStore(repo_path=str(REPO_DIR), config=repo_config(settings))


def apply_definitions(settings: FitStreamSettings) -> list[str]:
    """Register the entity, views, push source and services; returns their names.

    Idempotent (Feast compares with the registry). The Delta table must exist for the
    batch source to validate, so it is created empty if the lakehouse has not yet."""
    from feature_repo.definitions import feature_objects
    from stores.delta.lakehouse import DeltaTables
    from stores.delta.tables import USER_FEATURES, USER_FEATURES_SCHEMA

    DeltaTables(settings).ensure(USER_FEATURES, USER_FEATURES_SCHEMA)
    objects = feature_objects(settings)
    feature_store(settings).apply(objects)
    return [obj.name for obj in objects]
