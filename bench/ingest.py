"""HTTP ingest → Kafka: JSON batches from devices until Kafka acknowledges them (202).

The API runs ingest-only in its own process; this process is the load generator
(asyncio, a fixed number of concurrent connections). Request bodies are built
before the clock starts, one device token per user.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict

import httpx
import orjson
from rich.console import Console

from bench.stack import CpuWindow, bench_broker, broker_pid, roles, run_settings
from cli.dev.local_stack import wait_for_api
from fitstream.api_client import api_url
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet
from fitstream.tokens import issue_device_token

SPEC = FleetSpec(users=100, days=3, seed=7, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0))
EVENTS_PER_REQUEST = 50
CONCURRENCY = 16


def build_requests(secret: str) -> list[tuple[dict[str, str], bytes, int, int]]:
    """(headers, body, events, samples) per request, grouped by device."""
    by_device: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in simulate_fleet(SPEC):
        event = record.event
        by_device[(event["user_id"], event["device_id"])].append(event)
    requests = []
    for (user, device), events in by_device.items():
        headers = {"Authorization": f"Bearer {issue_device_token(secret, user, device, 3600)}",
                   "Content-Type": "application/json"}
        for i in range(0, len(events), EVENTS_PER_REQUEST):
            chunk = events[i:i + EVENTS_PER_REQUEST]
            requests.append((headers, orjson.dumps({"events": chunk}), len(chunk),
                             sum(len(e.get("samples", ())) for e in chunk)))
    return requests


async def send_all(url: str, requests: list) -> float:
    queue = list(reversed(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            headers, body, _, _ = queue.pop()
            response = await client.post("/api/v1/ingest/events", content=body, headers=headers)
            if response.status_code != 202:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.text}")

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    runs = []
    with bench_broker("ingest") as base:
        requests = build_requests(base.api.token_secret.get_secret_value())
        events = sum(r[2] for r in requests)
        samples = sum(r[3] for r in requests)
        for attempt in range(repeats):
            settings = run_settings(base, f"run{attempt}")
            settings = settings.model_copy(update={"kafka": settings.kafka.model_copy(
                update={"events_topic": f"bench.run{attempt}.events"})})
            with roles(settings) as stack:
                api = stack.start(settings, "api", "serve", "--no-reads", "--no-sink")
                wait_for_api(settings, stack)
                cpu = CpuWindow({"broker": broker_pid(base), "api": api.proc.pid})
                seconds = asyncio.run(send_all(api_url(settings), requests))
                runs.append({"seconds": round(seconds, 2), "cpu": cpu.shares()})
                console.print(f"run {attempt + 1}: {len(requests)} requests in {seconds:.1f} s,"
                              f" cpu {runs[-1]['cpu']}")
    median = statistics.median(r["seconds"] for r in runs)
    return {
        "benchmark": f"HTTP ingest → Kafka ({EVENTS_PER_REQUEST} events per request, "
                     f"{CONCURRENCY} connections)",
        "records": events, "samples": samples, "requests": len(requests),
        "median_seconds": median,
        "records_per_s": round(events / median), "samples_per_s": round(samples / median),
        "runs": runs,
    }
