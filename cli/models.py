"""``fitstream models``: train the AI engine's models, promote a challenger through the
gate, and list the registry (fitstream/model_catalogue.py names them)."""

from __future__ import annotations

import importlib
import logging
import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import console
from fitstream.model_catalogue import MODELS, ModelSpec, by_registered_name
from fitstream.settings import get_settings

app = typer.Typer(help="Train, promote and list the models (MLflow registry).",
                  no_args_is_help=True)


def _spec(name: str) -> ModelSpec:
    """A model by CLI key (forecast, race, recommender) or registered name."""
    if name in MODELS:
        return MODELS[name]
    try:
        return by_registered_name(name)
    except KeyError as exc:
        raise typer.BadParameter(f"{exc.args[0]}; or a key: {', '.join(MODELS)}") from exc


def _quiet_mlflow() -> None:
    # MLflow's INFO lines and upload bars would tear through the progress bars.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4g}" if abs(value) < 10 else f"{value:,.1f}"


@app.command("train")
def models_train(
    model: Annotated[str, typer.Argument(help=f"One of: {', '.join(MODELS)}.")],
) -> None:
    """Train MODEL from the lakehouse and Feast (point in time), evaluate it on a
    chronological holdout beside its baselines, log the run to MLflow and register it
    as the new @challenger."""
    spec = _spec(model)
    _quiet_mlflow()
    package = importlib.import_module(spec.package)
    settings = get_settings()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        report = package.train(settings, progress=on_progress)
    metric = spec.gate_metric
    table = Table("", metric, title=f"{spec.registered_name} v{report.version} "
                  f"(@{settings.models.challenger_alias}), run {report.run_id}: "
                  f"{report.train_rows:,} train / {report.holdout_rows:,} holdout rows")
    table.add_row("[bold]model[/bold]", _number(report.metrics.get(f"holdout_{metric}")))
    for key, value in sorted(report.metrics.items()):
        if key.startswith("baseline_") and key.endswith(f"_{metric}"):
            table.add_row(f"baseline {key.removeprefix('baseline_').removesuffix(f'_{metric}')}",
                          _number(value))
    console.print(table)


@app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Registered name or key, e.g. forecast.")],
) -> None:
    """Move @champion to @challenger if the challenger beats every baseline of its run
    and the current champion on the challenger's holdout; print why it did or did not."""
    from models.registry import promote

    spec = _spec(name)
    _quiet_mlflow()
    with console.status(f"judging {spec.registered_name}'s challenger"):
        decision = promote(get_settings(), spec)
    table = Table("against", "metric", "theirs", f"challenger v{decision.challenger}", "beats",
                  title=f"{spec.registered_name}: "
                        + ("[green]promoted[/green]" if decision.promoted else
                           "[red]not promoted[/red]")
                        + f" (champion was {'v' + decision.champion if decision.champion else 'none'})")
    for row in decision.table:
        table.add_row(row["against"], row["metric"], _number(row["theirs"]),
                      _number(row["challenger"]), "yes" if row["beats"] else "[red]no[/red]")
    console.print(table)
    for reason in decision.reasons:
        console.print(f"- {reason}")


@app.command("list")
def models_list() -> None:
    """Every model's registered versions: aliases, when, the holdout metric and the best
    baseline of its run."""
    from models.registry import model_versions

    _quiet_mlflow()
    settings = get_settings()
    table = Table("model", "version", "aliases", "created (UTC)", "metric", "model",
                  "best baseline", "run", title=f"MLflow registry ({settings.mlflow_tracking_uri()})")
    for spec in MODELS.values():
        versions = model_versions(settings, spec)
        if not versions:
            table.add_row(spec.registered_name, "—", "", "", spec.gate_metric, "", "", "")
        for row in versions:
            metrics, metric = row["metrics"], spec.gate_metric
            baselines = {k: v for k, v in metrics.items()
                         if k.startswith("baseline_") and k.endswith(f"_{metric}")}
            pick = min if spec.lower_is_better else max
            best = pick(baselines.items(), key=lambda item: item[1]) if baselines else None
            table.add_row(
                spec.registered_name, row["version"], ", ".join(f"@{a}" for a in row["aliases"]),
                f"{datetime.fromtimestamp(row['created'] / 1000, UTC):%Y-%m-%d %H:%M}",
                metric, _number(metrics.get(f"holdout_{metric}")),
                "—" if best is None else
                f"{_number(best[1])} ({best[0].removeprefix('baseline_').removesuffix('_' + metric)})",
                (row["run_id"] or "")[:8])
    console.print(table)
