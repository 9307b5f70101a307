"""``fitstream settings``."""

from __future__ import annotations

import typer

from fitstream.settings import get_settings

app = typer.Typer()


@app.command("settings")
def show_settings() -> None:
    """Print the settings in force (secrets masked)."""
    typer.echo(get_settings().model_dump_json(indent=2))
