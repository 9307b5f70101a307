"""``fitstream demo``: the whole pipeline on the embedded defaults (cli/dev/demo.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console
from fitstream.settings import get_settings

app = typer.Typer()


@app.command()
def demo(
    once: Annotated[bool, typer.Option("--once", envvar="DEMO_ONCE",
                                       help="Exit after the summary instead of serving.")]
    = False,
    users: Annotated[int, typer.Option(min=1)] = 100,
    days: Annotated[int, typer.Option(min=1)] = 14,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Run everything on the embedded defaults and print what was materialised."""
    from cli.dev.demo import run_demo

    raise typer.Exit(run_demo(get_settings(), console, users=users, days=days, seed=seed,
                              once=once))
