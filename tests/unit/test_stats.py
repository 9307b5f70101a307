"""WorkoutStats from a user's summaries."""

from __future__ import annotations

from datetime import UTC, datetime

from fitstream.domain.stats import user_stats
from fitstream.domain.windows import LeaderboardWindow


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def summary(workout_id, day, sport="running", distance=5000.0, moving_ms=1_500_000,
            best_1k=None, status="completed"):
    return {"workout_id": workout_id, "sport_type": sport, "status": status,
            "start_time": ms(day), "moving_duration_ms": moving_ms, "distance_meters": distance,
            "calories_burned": 100.0, "best_1k_ms": best_1k, "best_5k_ms": None,
            "best_10k_ms": None}


def test_totals_records_and_twelve_weeks_of_activity():
    summaries = [summary("a", "2026-11-02", best_1k=280_000),
                 summary("b", "2026-11-10", distance=10_000.0, moving_ms=3_000_000,
                         best_1k=270_000),
                 summary("c", "2026-11-11", sport="cycling", distance=30_000.0),
                 summary("d", "2026-10-30"),
                 summary("x", "2026-11-12", status="cancelled")]
    stats = user_stats(summaries, "running", LeaderboardWindow.MONTH, "2026-11")
    assert stats["totals"] == {"workouts": 2, "distance_meters": 15_000.0,
                               "moving_time_s": 4500.0, "calories": 200.0,
                               "avg_speed_mps": 15_000.0 * 1000 / 4_500_000}
    assert stats["personal_records"] == {"1k": {"elapsed_s": 270.0, "workout_id": "b"},
                                         "5k": None, "10k": None}
    weeks = stats["weekly_activity"]
    assert len(weeks) == 12
    assert weeks[-1]["week"] == "2026-W49"  # the week holding the month's last day
    by_week = {w["week"]: w["workouts"] for w in weeks}
    assert (by_week["2026-W44"], by_week["2026-W45"], by_week["2026-W46"]) == (1, 1, 1)
    everything = user_stats(summaries, "all", LeaderboardWindow.ALL, "all")
    assert everything["totals"]["workouts"] == 4


def test_the_processor_s_totals_give_the_same_stats_as_the_summaries():
    """stats_from_totals over the leaderboard entries count_completed_workouts keeps (what
    the API reads) equals user_stats over the summaries, for every window and sport."""
    from fitstream.domain.leaderboards import count_completed_workouts
    from fitstream.domain.stats import personal_records, stats_from_totals

    summaries = [summary("a", "2026-11-02", best_1k=280_000),
                 summary("b", "2026-11-10", distance=10_000.5, moving_ms=3_000_001,
                         best_1k=270_000),
                 summary("c", "2026-11-11", sport="cycling", distance=30_000.25),
                 summary("d", "2026-10-30"),
                 summary("e", "2026-09-07", distance=1234.125),
                 summary("x", "2026-11-12", status="cancelled")]
    for s in summaries:
        s |= {"user_id": "u", "end_time": s["start_time"] + s["moving_duration_ms"],
              "last_event_at": s["start_time"] + s["moving_duration_ms"]}
    _, entries = count_completed_workouts(summaries, lambda user: None, lambda user: 0, 0)
    by_board = {(e["window"], e["period"], e["sport"]): e for e in entries}
    records = personal_records(summaries)
    for sport in ("all", "running", "cycling", "swimming"):
        for window, period in ((LeaderboardWindow.MONTH, "2026-11"),
                               (LeaderboardWindow.WEEK, "2026-W46"),
                               (LeaderboardWindow.DAY, "2026-11-10"),
                               (LeaderboardWindow.YEAR, "2026"),
                               (LeaderboardWindow.MONTH, "2026-12")):
            def totals(w, p, sport=sport):
                return by_board.get((w.value, p, sport))
            assert stats_from_totals(totals, records, sport, window, period) == user_stats(
                summaries, sport, window, period), (sport, window, period)
