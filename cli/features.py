"""``fitstream features``: the Feast feature store (feature_repo/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console
from fitstream.settings import FitStreamSettings, get_settings

app = typer.Typer(help="The Feast feature store (feature_repo/).", no_args_is_help=True)


@app.command("apply")
def features_apply() -> None:
    """Register feature_repo/'s entity, view, push source and feature services in the
    registry of these settings (what `feast apply` does, with FITSTREAM_* settings)."""
    from stores.feast.store import apply_definitions

    names = apply_definitions(get_settings())
    console.print(f"applied {len(names)} Feast objects: {', '.join(names)}")


@app.command("online")
def features_online(
    user: Annotated[str, typer.Option(help="The user id, e.g. user-00000.")],
    service: Annotated[str, typer.Option(
        help="A feature service; empty: every feature of the user_features view.")] = "",
) -> None:
    """Print one user's online feature vector, as a model would be served it."""
    console.print(online_feature_table(get_settings(), user, service or None))


def online_feature_table(settings: FitStreamSettings, user: str,
                         service: str | None = None) -> Table:
    """A user's online feature vector from Feast, one feature per line."""
    from feature_repo.definitions import FEATURE_VIEW
    from fitstream.domain.features import FLAT_FEATURE_NAMES
    from stores.feast.store import feature_store

    store = feature_store(settings)
    features: Any = (store.get_feature_service(service) if service else
                     [f"{FEATURE_VIEW}:{name}" for name in ("as_of", *FLAT_FEATURE_NAMES)])
    vector = store.get_online_features(features=features,
                                       entity_rows=[{"user_id": user}]).to_dict()
    table = Table("feature", "value", title=f"Feast online features of {user} "
                  f"({settings.feast.online_store}{', ' + service if service else ''})")
    order = ["user_id", "as_of", *FLAT_FEATURE_NAMES]
    for name in sorted(vector, key=lambda n: order.index(n) if n in order else len(order)):
        value = vector[name][0]
        if name == "as_of" and value is not None:
            value = f"{value} ({datetime.fromtimestamp(value / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC)"
        elif isinstance(value, float):
            value = f"{value:,.3f}"
        table.add_row(name, "—" if value is None else str(value))
    return table
