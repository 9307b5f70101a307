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
    users: Annotated[int, typer.Option(min=1, help="Simulated users.")] = 40,
    days: Annotated[int, typer.Option(
        min=1, help="Days of activity from Monday 2026-10-19 (the fleet must end before "
                    "now). Five weeks give the forecast's chronological split labelled "
                    "snapshots (the label is the next 7 days) for two training weeks, its "
                    "one-week gap and a one-week holdout; with two weeks it has no labelled "
                    "training week. 40 users by 35 days streams about as "
                    "many records as the earlier 100 by 14, so the AI engine adds only "
                    "its own stages to the demo's time.")] = 35,
    seed: Annotated[int, typer.Option()] = 42,
) -> None:
    """Run everything on the embedded defaults and print what was materialised; then
    train the models from the lakehouse, promote them through the gate, score every
    feature row and print one user's forecast and recommendations from the API."""
    from cli.dev.demo import run_demo

    raise typer.Exit(run_demo(get_settings(), console, users=users, days=days, seed=seed,
                              once=once))
