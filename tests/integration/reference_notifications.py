"""The notifications a log must cause, computed from its events with no product code.

The rules are restated from the product's documentation (README, "Notifications"):
an unlock, a personal-record improvement, a distance goal passed mid-workout, and
entering the top 10 of a weekly distance board (event-time order).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

GOALS = {"running": (5000, 10_000, 21_097.5, 42_195), "walking": (5000, 10_000),
         "cycling": (20_000, 50_000, 100_000), "swimming": (1000, 2000)}
DEFAULT_GOALS = (5000, 10_000)
RECORD_FIELDS = {1000: "one_km_s", 5000: "five_km_s", 10_000: "ten_km_s"}


def goal_notifications(events: list[dict]) -> set[str]:
    """Per workout, in seq order, every goal its distance readings crossed from below."""
    by_workout: dict[str, dict[int, dict]] = defaultdict(dict)
    for event in events:
        by_workout[event["workout_id"]].setdefault(event["seq"], event)
    ids = set()
    for workout_id, by_seq in by_workout.items():
        ordered = [by_seq[s] for s in sorted(by_seq)]
        if ordered[0]["type"] != "WorkoutStarted":
            continue
        goals = GOALS.get(ordered[0]["sport_type"], DEFAULT_GOALS)
        distance, reached = 0.0, set()
        for event in ordered[1:]:
            if event["type"] in ("WorkoutCompleted", "WorkoutCancelled"):
                break
            if event["type"] != "WorkoutUpdated":
                continue
            now = event["current_distance_meters"]
            for goal in goals:
                if distance < goal <= now and goal not in reached:
                    reached.add(goal)
                    ids.add(f"n:{event['user_id']}:goal-{goal:g}:{workout_id}")
            distance = now
    return ids


def record_notifications(summaries: list[dict[str, Any]], completed_at: dict[str, int]
                         ) -> set[str]:
    """Improvements on a user's earlier best 1/5/10 km, in the order workouts completed.

    ``summaries`` carry the served best efforts (checked against the log elsewhere).
    """
    ids = set()
    runs = sorted((s for s in summaries
                   if s["status"] == "completed" and s["sport_type"] == "running"),
                  key=lambda s: completed_at[s["workout_id"]])
    best: dict[tuple[str, int], int] = {}
    for summary in runs:
        for distance, field in RECORD_FIELDS.items():
            seconds = summary["best_efforts"][field]
            if seconds is None:
                continue
            elapsed, key = round(seconds * 1000), (summary["user_id"], distance)
            if key in best and elapsed < best[key]:
                ids.add(f"n:{summary['user_id']}:pr-{distance}:{summary['workout_id']}")
            best[key] = min(best.get(key, elapsed), elapsed)
    return ids


def top_ten_notifications(summaries: list[dict[str, Any]]) -> set[str]:
    """Users some workout put in a weekly distance top 10, sweeping ends in time order."""
    boards: dict[str, list[tuple]] = defaultdict(list)
    for s in summaries:
        if s["status"] != "completed":
            continue
        iso = s["start_time"].isocalendar()
        end = int(s["end_time"].timestamp() * 1000)
        for sport in (s["sport_type"], "all"):
            boards[f"week|{iso.year}-W{iso.week:02d}|{sport}"].append(
                (end, s["user_id"], s["workout_id"], round(s["distance_meters"] * 1000)))
    ids = set()
    for board, completions in boards.items():
        totals: dict[str, tuple[int, int]] = {}
        for end, user, _, distance in sorted(completions):
            totals[user] = (totals.get(user, (0, 0))[0] + distance, end)
            ranking = sorted(totals, key=lambda u: (-totals[u][0], totals[u][1], u))
            if ranking.index(user) < 10:
                ids.add(f"n:{user}:top10:{board}")
    return ids


def reference_notifications(events: list[dict], summaries: list[dict[str, Any]],
                            achievements: dict[str, dict[str, tuple]],
                            completed_at: dict[str, int]) -> dict[str, set[str]]:
    """Per user, the ids of every notification the log must cause."""
    ids = goal_notifications(events) | record_notifications(summaries, completed_at) \
        | top_ten_notifications(summaries)
    ids |= {f"n:{user}:{rule}" for user, rules in achievements.items()
            for rule, (_, at) in rules.items() if at is not None}
    by_user: dict[str, set[str]] = defaultdict(set)
    for notification_id in ids:
        by_user[notification_id.split(":")[1]].add(notification_id)
    return by_user
