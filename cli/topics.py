"""``fitstream topics``."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import console
from fitstream.settings import get_settings

app = typer.Typer(help="Kafka topics.", no_args_is_help=True)


@app.command("create")
def topics_create() -> None:
    """Create every topic with its partition count (existing ones are left alone)."""
    from fitstream.kafka.topics import create_topics, topic_specs

    settings = get_settings()
    outcome = create_topics(settings)
    table = Table("topic", "partitions", "outcome", "purpose")
    for spec in topic_specs(settings):
        table.add_row(spec.name, str(spec.partitions), outcome[spec.name], spec.purpose)
    console.print(table)
