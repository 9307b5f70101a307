"""FitStream: run, feed and inspect the platform.

Every command reads one settings object from FITSTREAM_* environment variables
(nested with __, e.g. FITSTREAM_CLICKHOUSE__BACKEND=server); `fitstream settings`
prints what is in force.
"""

from __future__ import annotations

import typer

from cli import (
    broker,
    demo,
    features,
    jobs,
    models,
    replay,
    roles,
    settings,
    simulate,
    sql,
    tokens,
    topics,
)

app = typer.Typer(help=__doc__, no_args_is_help=True, rich_markup_mode="rich",
                  pretty_exceptions_show_locals=False)
# Single commands (their Typer apps have no name, so their commands join this level).
for module in (settings, sql, simulate, roles, replay, demo):
    app.add_typer(module.app)
# Command groups.
app.add_typer(broker.app, name="broker")
app.add_typer(topics.app, name="topics")
app.add_typer(tokens.devices_app, name="devices")
app.add_typer(tokens.users_app, name="users")
app.add_typer(tokens.analysts_app, name="analysts")
app.add_typer(jobs.app, name="jobs")
app.add_typer(features.app, name="features")
app.add_typer(models.app, name="models")

if __name__ == "__main__":
    app()
