"""What "the same outputs" means across engines, partitionings and batch sizes.

The processor re-sends on purpose (every touched entity re-emits its current outputs,
so a crash between a state write and a send heals on replay), and how often it
re-sends depends on how events fall into batches. Every consumer is idempotent, so the
content of a topic is what its consumers keep: this module reduces each output to that,
exactly as the sinks do, and the differential tests compare the reductions.

- summaries: the last one per (user, workout), in the user's log order;
- leaderboard entries and achievement progress: the highest version per key (the
  ReplacingMergeTree rule); for equal versions the records must agree;
- unlocks, records, notifications, features, board completions: the set of distinct
  records (their ids are deterministic);
- claims: who claimed which workout id (``claimed_at`` is the broker's clock when each
  run's copy of the log was written, so it differs between runs by construction);
- rejections: the set of (reason, event id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

Outputs = dict[str, list[dict[str, Any]]]


def _latest_by_version(records: Iterable[dict[str, Any]], key: tuple[str, ...]) -> dict:
    kept: dict[tuple, dict[str, Any]] = {}
    for record in records:
        k = tuple(record[f] for f in key)
        if k not in kept or record["version"] > kept[k]["version"]:
            kept[k] = record
        elif record["version"] == kept[k]["version"]:
            assert record == kept[k], f"two different records at one version: {k}"
    return kept


def _distinct(records: Iterable[dict[str, Any]]) -> list[bytes]:
    return sorted({orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records})


def canonical(outputs: Outputs) -> dict[str, Any]:
    """``outputs`` (output name -> records in the order each user's were sent) reduced
    to what the idempotent consumers keep."""
    summaries: dict[tuple, dict[str, Any]] = {}
    for summary in outputs.get("summaries", []):
        summaries[(summary["user_id"], summary["workout_id"])] = summary
    return {
        "summaries": summaries,
        "leaderboard_entries": _latest_by_version(
            outputs.get("leaderboard_entries", []), ("window", "period", "sport", "user_id")),
        "progress": _latest_by_version(outputs.get("progress", []), ("user_id", "rule_id")),
        "unlocks": _distinct(outputs.get("unlocks", [])),
        "records": _distinct(outputs.get("records", [])),
        "features": _distinct(outputs.get("features", [])),
        "notifications": _distinct(outputs.get("notifications", [])),
        "board_completions": _distinct(outputs.get("board_completions", [])),
        "claims": sorted({(c["workout_id"], c["user_id"]) for c in outputs.get("claims", [])}),
        "rejections": sorted({(r["reason"], r["event_id"])
                              for r in outputs.get("rejections", [])}),
    }
