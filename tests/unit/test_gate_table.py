"""The gate table the demo and ``fitstream models`` print: each model's gate metric beside
every baseline of its run, and promoted or not with the comparisons it lost (or why it
was not trained)."""

from __future__ import annotations

from rich.console import Console

from cli.models import baselines, gate_table, verdict
from fitstream.model_catalogue import FORECAST, NEXT_WORKOUT, RACE_TIME
from models.evaluation import TrainingReport
from models.registry import PromotionDecision


def rendered(table) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_baselines_are_the_runs_baseline_metrics_of_the_gate_metric_by_name():
    metrics = {"holdout_mae": 9.0, "baseline_user_mean_mae": 12.0, "baseline_last_7_days_mae": 10.5,
               "baseline_last_7_days_rmse": 14.0, "train_mae": 3.0}
    assert baselines(metrics, "mae") == [("last_7_days", 10.5), ("user_mean", 12.0)]


def test_a_refused_challenger_names_what_it_did_not_beat():
    decision = PromotionDecision(False, challenger="1", table=[
        {"against": "baseline 28_days_over_4", "metric": "mae", "theirs": 8789.2,
         "challenger": 9034.6, "beats": False},
        {"against": "baseline last_7_days", "metric": "mae", "theirs": 10523.8,
         "challenger": 9034.6, "beats": True}])
    assert verdict(decision) == "[red]not promoted[/red]: does not beat 28_days_over_4"


def test_one_row_per_model_with_its_metric_baselines_and_verdict():
    forecast = TrainingReport(FORECAST, "run-f", "2", {
        "holdout_mae": 9034.6, "baseline_28_days_over_4_mae": 8789.2,
        "baseline_user_mean_mae": 12701.6})
    recommender = TrainingReport(NEXT_WORKOUT, "run-r", "1", {
        "holdout_ndcg_at_3": 0.3016, "baseline_most_recent_ndcg_at_3": 0.2827})
    refused = PromotionDecision(False, challenger="2", table=[
        {"against": "baseline 28_days_over_4", "beats": False},
        {"against": "baseline user_mean", "beats": True}])
    promoted = PromotionDecision(True, challenger="1", table=[
        {"against": "baseline most_recent", "beats": True}])
    text = rendered(gate_table([
        (FORECAST, forecast, refused), (NEXT_WORKOUT, recommender, promoted),
        (RACE_TIME, None, "1 UTC week(s) of data: a chronological split needs two")]))
    lines = [line for line in text.splitlines() if "│" in line]
    assert "weekly_distance_forecast v2" in lines[0]
    assert "9,034.6" in lines[0] and "28_days_over_4 8,789.2" in lines[0]
    assert "not promoted: does not beat 28_days_over_4" in lines[0]
    assert "user_mean 12,701.6" in lines[1]
    assert "next_workout v1" in text and "0.3016" in text
    assert "promoted v1: beats most_recent" in text
    assert "race_time" in text and "not trained: 1 UTC week(s) of data" in text
