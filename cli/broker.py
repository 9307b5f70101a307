"""``fitstream broker``: the embedded broker (cli/dev/embedded_broker.py) for local runs."""

from __future__ import annotations

import typer

from cli.common import console
from fitstream.settings import get_settings

app = typer.Typer(help="The embedded Kafka-wire broker (noida-db) for local runs.",
                  no_args_is_help=True)


@app.command("start")
def broker_start() -> None:
    """Start the broker in the background and wait until it answers."""
    from cli.dev import embedded_broker

    try:
        status = embedded_broker.start(get_settings())
    except embedded_broker.BrokerError as exc:
        console.print(f"[red]broker: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"broker running on {status.address} (pid {status.pid}, data {status.data_dir})")


@app.command("stop")
def broker_stop() -> None:
    """Stop the broker and wait for its process to exit (data is kept)."""
    from cli.dev import embedded_broker

    stopped = embedded_broker.stop(get_settings())
    console.print("broker stopped" if stopped else "broker was not running")


@app.command("status")
def broker_status() -> None:
    """Say whether the broker runs; exit 1 if it does not."""
    from cli.dev import embedded_broker

    status = embedded_broker.status(get_settings())
    if status.running:
        console.print(f"running on {status.address} (pid {status.pid}, data {status.data_dir})")
    else:
        console.print(f"not running (data {status.data_dir})")
        raise typer.Exit(1)
