"""``fitstream models``: train the AI engine's models, promote a challenger through the
gate, and list the registry (fitstream/model_catalogue.py names them)."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cli.common import console
from fitstream.model_catalogue import MODELS, ModelSpec, by_registered_name
from fitstream.settings import FitStreamSettings, get_settings

if TYPE_CHECKING:  # the models import MLflow and pandas: only when a command runs
    from models.evaluation import TrainingReport
    from models.registry import PromotionDecision

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


def quiet_mlflow() -> None:
    # MLflow's INFO lines and upload bars would tear through the progress bars.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.4g}" if abs(value) < 10 else f"{value:,.1f}"


def baselines(metrics: dict[str, float], metric: str) -> list[tuple[str, float]]:
    """A run's ``baseline_<name>_<metric>`` values, as (name, value) sorted by name."""
    prefix, suffix = "baseline_", f"_{metric}"
    return sorted((key.removeprefix(prefix).removesuffix(suffix), value)
                  for key, value in metrics.items()
                  if key.startswith(prefix) and key.endswith(suffix))


@contextmanager
def training_progress(console: Console) -> Iterator[Callable[[str, str, int, int], None]]:
    """A rich progress display for trainers: yields ``on_progress(model, stage, done,
    total)``, one bar per model and stage (``package.train(progress=...)`` passes the
    last three)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[tuple[str, str], TaskID] = {}

        def on_progress(model: str, stage: str, done: int, total: int) -> None:
            if (model, stage) not in tasks:
                tasks[(model, stage)] = bar.add_task(f"{model}: {stage}", total=total or None)
            bar.update(tasks[(model, stage)], completed=done, total=total or None)

        yield on_progress


def train_model(spec: ModelSpec, settings: FitStreamSettings,
                on_progress: Callable[[str, str, int, int], None]) -> TrainingReport:
    """``spec``'s package trained from the lakehouse and Feast, registered as @challenger."""
    package = importlib.import_module(spec.package)
    return package.train(settings, progress=lambda stage, done, total: on_progress(
        spec.key, stage, done, total))


def verdict(decision: PromotionDecision) -> str:
    """Promoted or not, and why, in one cell: the comparisons the challenger lost (or
    the gate's reason for not judging), or what it beat."""
    def named(row: dict[str, Any]) -> str:
        return row["against"].removeprefix("baseline ")

    if decision.promoted:
        return (f"[green]promoted[/green] v{decision.challenger}: beats "
                + ", ".join(named(row) for row in decision.table))
    lost = [named(row) for row in decision.table if not row["beats"]]
    why = f"does not beat {', '.join(lost)}" if lost else "; ".join(decision.reasons)
    return f"[red]not promoted[/red]: {why}"


def gate_table(rows: Iterable[tuple[ModelSpec, TrainingReport | None, PromotionDecision | str]],
               title: str = "models: gate metric on the chronological holdout") -> Table:
    """One row per model: its gate metric beside every baseline of the run, and whether
    it was promoted and why. A report of None with a string (why it was not trained)
    stands for a model that could not be trained."""
    table = Table("model", "gate metric", "model", "baselines", "promoted", title=title)
    table.columns[0].overflow = table.columns[4].overflow = "fold"
    for spec, report, decision in rows:
        metric = f"{spec.gate_metric} ({'lower' if spec.lower_is_better else 'higher'} wins)"
        if report is None or isinstance(decision, str):
            table.add_row(spec.registered_name, metric, "—", "",
                          f"[red]not trained[/red]: {decision}")
            continue
        table.add_row(
            f"{spec.registered_name} v{report.version}", metric,
            _number(report.metrics.get(f"holdout_{spec.gate_metric}")),
            "\n".join(f"{name} {_number(value)}"
                      for name, value in baselines(report.metrics, spec.gate_metric)),
            verdict(decision))
    return table


@app.command("train")
def models_train(
    model: Annotated[str, typer.Argument(help=f"One of: {', '.join(MODELS)}.")],
) -> None:
    """Train MODEL from the lakehouse and Feast (point in time), evaluate it on a
    chronological holdout beside its baselines, log the run to MLflow and register it
    as the new @challenger."""
    spec = _spec(model)
    quiet_mlflow()
    settings = get_settings()
    with training_progress(console) as on_progress:
        report = train_model(spec, settings, on_progress)
    metric = spec.gate_metric
    table = Table("", metric, title=f"{spec.registered_name} v{report.version} "
                  f"(@{settings.models.challenger_alias}), run {report.run_id}: "
                  f"{report.train_rows:,} train / {report.holdout_rows:,} holdout rows")
    table.add_row("[bold]model[/bold]", _number(report.metrics.get(f"holdout_{metric}")))
    for name, value in baselines(report.metrics, metric):
        table.add_row(f"baseline {name}", _number(value))
    console.print(table)


@app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Registered name or key, e.g. forecast.")],
) -> None:
    """Move @champion to @challenger if the challenger beats every baseline of its run
    and the current champion on the challenger's holdout; print why it did or did not."""
    from models.registry import promote

    spec = _spec(name)
    quiet_mlflow()
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

    quiet_mlflow()
    settings = get_settings()
    table = Table("model", "version", "aliases", "created (UTC)", "metric", "model",
                  "best baseline", "run", title=f"MLflow registry ({settings.mlflow_tracking_uri()})")
    for spec in MODELS.values():
        versions = model_versions(settings, spec)
        if not versions:
            table.add_row(spec.registered_name, "—", "", "", spec.gate_metric, "", "", "")
        for row in versions:
            metrics, metric = row["metrics"], spec.gate_metric
            run_baselines = baselines(metrics, metric)
            pick = min if spec.lower_is_better else max
            best = pick(run_baselines, key=lambda item: item[1]) if run_baselines else None
            table.add_row(
                spec.registered_name, row["version"], ", ".join(f"@{a}" for a in row["aliases"]),
                f"{datetime.fromtimestamp(row['created'] / 1000, UTC):%Y-%m-%d %H:%M}",
                metric, _number(metrics.get(f"holdout_{metric}")),
                "—" if best is None else
                f"{_number(best[1])} ({best[0]})",
                (row["run_id"] or "")[:8])
    console.print(table)
