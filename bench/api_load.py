"""Locust load for the API benchmark (run by bench/api_latency.py, in its own process).

Three reads at a fixed total rate: a weekly leaderboard's top 100, one user's rank
with five neighbours each side, and one user's stats (with that user's token).
Conditional requests are not sent, so every answer is a full body from the origin.

Environment: BENCH_PERIOD (ISO week), BENCH_USERS (comma-separated ids, for stats),
BENCH_BOARD_USERS (the users on that week's board, for around_user), BENCH_SECRET (the
API's token secret), BENCH_RATE_PER_USER (requests/s per simulated client).
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant_throughput, task

from fitstream.tokens import issue_user_token

PERIOD = os.environ["BENCH_PERIOD"]
USERS = os.environ["BENCH_USERS"].split(",")
BOARD_USERS = os.environ["BENCH_BOARD_USERS"].split(",")
SECRET = os.environ["BENCH_SECRET"]
TOKENS = {user: issue_user_token(SECRET, user, 3600) for user in USERS}


class AppReader(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("BENCH_RATE_PER_USER", "20")))

    @task
    def top_100(self) -> None:
        self.client.get(f"/api/v1/leaderboards/distance?window=week&period={PERIOD}&limit=100",
                        name="leaderboard top-100")

    @task
    def around_user(self) -> None:
        user = random.choice(BOARD_USERS)
        self.client.get(f"/api/v1/leaderboards/distance?window=week&period={PERIOD}"
                        f"&around_user={user}&neighbours=5", name="leaderboard around_user")

    @task
    def stats(self) -> None:
        user = random.choice(USERS)
        self.client.get(f"/api/v1/users/{user}/stats?window=month&period=2026-11",
                        headers={"Authorization": f"Bearer {TOKENS[user]}"},
                        name="user stats")
