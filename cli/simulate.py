"""``fitstream simulate``: a deterministic fleet's workouts, produced to the events topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console
from fitstream.settings import get_settings

app = typer.Typer()


def _parse_day(value: str) -> int:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD") from exc
    return int(day.timestamp() * 1000)


@app.command()
def simulate(
    users: Annotated[int, typer.Option(min=1, help="Simulated users, one device each.")] = 100,
    days: Annotated[int, typer.Option(min=1, help="Days of activity to simulate.")] = 14,
    seed: Annotated[int, typer.Option(help="Same seed, same log.")] = 42,
    rate: Annotated[float | None, typer.Option(help="Cap in records/s (default: no cap).")]
    = None,
    start_date: Annotated[str, typer.Option(help="First day, UTC (YYYY-MM-DD).")]
    = "2026-11-02",
    duplicate: Annotated[float, typer.Option(min=0, max=1, help="Share re-sent.")] = 0.01,
    out_of_order: Annotated[float, typer.Option(min=0, max=1, help="Share swapped.")] = 0.01,
    late: Annotated[float, typer.Option(min=0, max=1, help="Share of workouts synced hours late.")]
    = 0.02,
    malformed: Annotated[float, typer.Option(min=0, max=1, help="Share of garbage records.")]
    = 0.001,
) -> None:
    """Produce a deterministic fleet's workouts to the events topic."""
    from fitstream.contracts import AvroSerde, registry_from_settings
    from fitstream.simulator.fleet import ChaosKnobs, FleetSpec

    settings = get_settings()
    spec = FleetSpec(users, days, seed, _parse_day(start_date),
                     ChaosKnobs(duplicate, out_of_order, late, malformed))
    tally = run_simulation(settings, spec, AvroSerde(registry_from_settings(
        settings.schema_registry)), rate)
    table = Table("records", "events", "samples", "workouts", "completed", "cancelled",
                  "duplicates", "malformed", "late workouts", title="produced")
    table.add_row(*(str(v) for v in (tally.records, tally.events, tally.samples, tally.workouts,
                                     tally.completed, tally.cancelled, tally.duplicates,
                                     tally.malformed, tally.late_workouts)))
    console.print(table)


def run_simulation(settings, spec, serde, rate):
    from fitstream.simulator.producer import produce_fleet

    with Progress(TextColumn("[bold]simulating"), BarColumn(), TextColumn(
            "{task.fields[records]} records · {task.fields[samples]} samples"),
            TimeElapsedColumn(), console=console, transient=False) as progress:
        task = progress.add_task("simulate", total=None, records=0, samples=0)

        def on_progress(tally):
            progress.update(task, records=tally.records, samples=tally.samples)

        return produce_fleet(settings, spec, serde, rate, on_progress)
