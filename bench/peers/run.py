"""The race against the peers (issue 13, item 7): ``make bench-peers``.

One pre-filled log of workout events (the simulator's fleet, as bench/processor.py
makes it, coordinates plain) on one embedded broker; the same job (bench/peers/job.py)
run to the log's end by each engine, interleaved: round 1 runs every engine once, then
round 2, then round 3, each round in a rotated order. Every run gets a fresh output
topic, consumer group (app id) and state directory. After each run its output topic is
read back (the last value of each key) and must equal every other run's, or the bench
fails.

Engines (each in its own process; ``faust`` in the app venv, the others in
``.venv-peers``, so the peers never enter the app's dependencies):

- ``fitstream``: a FitStream-shaped Faust agent (bench/peers/engine_faust.py);
- ``quix``: Quix Streams 3.28, RocksDB state (bench/peers/engine_quix.py);
- ``bytewax``: Bytewax 0.21.1 with recovery on (bench/peers/engine_bytewax.py);
- ``bare``: a confluent-kafka loop with dicts, the practical limit
  (bench/peers/engine_bare.py).

Measured per run:
- ``processing_s``: from the first record read to the last record processed with its
  outputs flushed (what the engine reports); records/s is records over that;
- ``wall_s``: from the process's start to the same point (start-up included);
- CPU: the engine's process tree from /proc (bench.engines.TreeCpu), up to the report,
  minus what the process had used when it read its first record (start-up: imports,
  group join); also the whole figure, and the broker's CPU over the run.
Medians of the runs of each engine; ratios to the bare loop.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console

from bench.engines import TreeCpu
from bench.peers.engine_faust import TABLES, changelog
from bench.peers.job import Event, Ref, RunConfig, apply, decoder
from bench.processor import SPEC
from bench.stack import CLOCK_TICKS, bench_broker, broker_pid, cpu_seconds
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.domain.event_time import UserClock
from fitstream.domain.workout_session import WorkoutSession
from fitstream.settings import REPO_ROOT
from fitstream.simulator.producer import produce_fleet

APP_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PEERS_PYTHON = REPO_ROOT / ".venv-peers" / "bin" / "python"
ENGINES: dict[str, tuple[Path, str]] = {
    "fitstream": (APP_PYTHON, "bench.peers.engine_faust"),
    "quix": (PEERS_PYTHON, "bench.peers.engine_quix"),
    "bytewax": (PEERS_PYTHON, "bench.peers.engine_bytewax"),
    "bare": (PEERS_PYTHON, "bench.peers.engine_bare"),
}
# The same knobs for every engine (where it has them): batches of up to 5,000 records
# (FitStream's default; Quix has no batches: it polls one message at a time), 0.25 s
# batch wait, commits / checkpoints / epochs every 5 s (Quix's default), 50 ms producer
# linger (FitStream's).
KNOBS = {"batch_max_records": 5000, "batch_within_s": 0.25, "commit_interval_s": 5.0,
         "linger_ms": 50}
# librdkafka consumers (Quix, Bytewax, bare): the embedded broker ignores fetch size
# limits (one fetch can bring a whole partition) and answers empty fetches at once,
# so idle consumers spin without a fetch back-off (/work/shared/STACK-NOTES.md).
CONSUMER_OVERRIDES = {"receive.message.max.bytes": 2147483647,
                      "fetch.queue.backoff.ms": 100, "queued.min.messages": 1}
PARTITIONS = 8


def create(admin: AdminClient, *names: str) -> None:
    futures = admin.create_topics([NewTopic(n, num_partitions=PARTITIONS,
                                            replication_factor=1) for n in names])
    for future in futures.values():
        future.result(30)


def ends_of(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "peers-ends"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
    finally:
        consumer.close()


def read_log(bootstrap: str, topic: str) -> list[tuple[bytes, bytes, int, int, int]]:
    """Every record of a topic: (key, value, partition, offset, timestamp ms)."""
    ends = ends_of(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "peers-reader",
                         "enable.auto.commit": False, **CONSUMER_OVERRIDES})
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    todo = {p: end for p, end in ends.items() if end > 0}
    records = []
    deadline = time.monotonic() + 120
    while todo:
        assert time.monotonic() < deadline, f"{topic}: not read to its end: {todo}"
        for message in consumer.consume(10_000, timeout=1):
            assert not message.error(), message.error()
            records.append((message.key(), message.value(), message.partition(),
                            message.offset(), message.timestamp()[1]))
            if message.offset() >= todo.get(message.partition(), 1 << 62) - 1:
                del todo[message.partition()]
    consumer.close()
    return records


def final_totals(bootstrap: str, topic: str) -> dict[str, int]:
    """The last value of each key in an output topic (per partition in offset order;
    a key lives on one partition)."""
    totals: dict[str, int] = {}
    for key, value, *_ in sorted(read_log(bootstrap, topic), key=lambda r: (r[2], r[3])):
        totals[key.decode()] = int(value)
    return totals


def job_alone(log: list[tuple[bytes, bytes, int, int, int]]) -> dict[str, Any]:
    """The job without any engine, in this process, over the log held in memory: decode
    alone, then decode + :func:`apply` in batches of one (Quix's shape) and of 5,000
    (the batch engines'), state in dicts of live objects; and in batches of one with
    the state kept as orjson bytes of ``to_state()`` (what a per-message engine with a
    serialized state store, Quix, must do for each record, RocksDB aside). What is left
    of an engine's CPU per record is the engine's."""
    decode = decoder()

    def timed(batch: int | None, serialized: bool = False) -> tuple[float, dict[str, int]]:
        cpu = time.process_time()
        sessions: dict = {}
        clocks: dict = {}
        totals: dict[str, int] = {}
        session, clock = sessions.get, clocks.get
        if serialized:
            def session(key: str) -> WorkoutSession | None:
                stored = sessions.get(key)
                return WorkoutSession.from_state(orjson.loads(stored)) if stored else None

            def clock(user_id: str) -> UserClock | None:
                stored = clocks.get(user_id)
                return UserClock.from_state(orjson.loads(stored)) if stored else None
        pending: list[tuple[Event, Ref]] = []
        for _, value, partition, offset, timestamp in log:
            event = decode(value)
            if event is None or batch is None:
                continue
            pending.append((event, [partition, offset, timestamp]))
            if len(pending) >= batch:
                step = apply(pending, session, clock, totals.get)
                if serialized:
                    for key, changed in step.sessions.items():
                        sessions[key] = orjson.dumps(changed.to_state())
                    for key, changed_clock in step.clocks.items():
                        clocks[key] = orjson.dumps(changed_clock.to_state())
                else:
                    sessions.update(step.sessions)
                    clocks.update(step.clocks)
                totals.update(step.totals)
                pending = []
        if pending:
            step = apply(pending, session, clock, totals.get)
            totals.update(step.totals)
        return (time.process_time() - cpu) / len(log) * 1e6, totals

    decode_us, _ = timed(None)
    one_us, one = timed(1)
    many_us, many = timed(KNOBS["batch_max_records"])
    serialized_us, serialized = timed(1, serialized=True)
    assert one == many == serialized, "the job's totals depend on the batch size or store"
    return {"decode_us_per_record": round(decode_us, 1),
            "decode_and_job_batch_1_us_per_record": round(one_us, 1),
            "decode_and_job_batch_5000_us_per_record": round(many_us, 1),
            "decode_and_job_batch_1_orjson_state_us_per_record": round(serialized_us, 1),
            "totals": len(many), "_totals": many}


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (every core), from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def kill(proc: subprocess.Popen, grace_s: float = 10) -> None:
    """Let an engine that is exiting by itself finish; end the rest (its group)."""
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def one_run(engine: str, run: str, bootstrap: str, events_topic: str,
            ends: dict[int, int], work: Path, broker: int, console: Console,
            timeout_s: float) -> dict[str, Any]:
    python, module = ENGINES[engine]
    name = f"peers-{engine}-{run}"
    state = work / name
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    config = RunConfig(engine=engine, bootstrap=bootstrap, events_topic=events_topic,
                       output_topic=f"{name}.totals", group=name, ends=ends,
                       state_dir=str(state), report=str(state / "report.json"),
                       consumer_overrides=CONSUMER_OVERRIDES, **KNOBS)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    create(admin, config.output_topic,
           *([changelog(name, t) for t in TABLES] if engine == "fitstream" else []))
    config_path = state / "config.json"
    config.dump(config_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    log_path = state / "engine.log"
    broker_before = cpu_seconds(broker)
    machine_before, own_before = busy_cpu_s(), own_cpu_s()
    started = time.time()
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(python), "-m", module, str(config_path)], cwd=REPO_ROOT,
                                env={**env, "PYTHONPATH": str(REPO_ROOT)}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    cpu = TreeCpu(proc.pid)
    report_path = Path(config.report)
    try:
        while not report_path.exists():
            if proc.poll() is not None and not report_path.exists():
                raise RuntimeError(f"{engine} {run} exited with {proc.returncode}: "
                                   f"{log_path.read_text(errors='replace')[-3000:]}")
            if time.time() - started > timeout_s:
                raise TimeoutError(f"{engine} {run} did not finish in {timeout_s} s")
            time.sleep(0.05)
        cpu.stop()
        broker_cpu = cpu_seconds(broker) - broker_before
        machine, own = busy_cpu_s() - machine_before, own_cpu_s() - own_before
        window = time.time() - started
    finally:
        kill(proc)
    report = json.loads(report_path.read_text())
    records = report["records"]
    processing = report["done_at"] - report["first_record_at"]
    startup_cpu = report["cpu_at_first_record"]
    result = {
        "records": records, "skipped": report["skipped"], "outputs": report["outputs"],
        "processing_s": round(processing, 2),
        "wall_s": round(report["done_at"] - started, 2),
        "records_per_s": round(records / processing),
        "records_per_s_wall": round(records / (report["done_at"] - started)),
        "cpu_us_per_record": round((cpu.total() - startup_cpu) / records * 1e6, 1),
        "cpu_us_per_record_with_startup": round(cpu.total() / records * 1e6, 1),
        "startup_cpu_s": round(startup_cpu, 2),
        "cpu_s_in_process_while_processing": round(
            report["cpu_at_done"] - report["cpu_at_first_record"], 2),
        "cpu_by_process": cpu.by_kind(),
        "broker_cpu_s": round(broker_cpu, 2),
        "broker_cores": round(broker_cpu / (report["done_at"] - started), 2),
        # Whatever else used the machine meanwhile (0 on a quiet machine; this harness
        # counts its own sampling): a run beside another heavy process is not a measure.
        "other_cores": round((machine - cpu.total() - broker_cpu - own) / window, 2),
        "_totals": final_totals(bootstrap, config.output_topic),
    }
    shown = {k: v for k, v in result.items() if not k.startswith("_")}
    console.print(f"{engine} {run}: {shown}")
    return result


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("records_per_s", "records_per_s_wall", "cpu_us_per_record",
            "cpu_us_per_record_with_startup", "processing_s", "wall_s", "broker_cores",
            "other_cores")
    return {**{f"median_{k}": statistics.median(r[k] for r in runs) for k in keys},
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--users", type=int, default=SPEC.users)
    parser.add_argument("--days", type=int, default=SPEC.days)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    engines = args.engines.split(",")
    assert set(engines) <= set(ENGINES), f"engines: {list(ENGINES)}"
    console = Console(stderr=True)
    spec = dataclasses.replace(SPEC, users=args.users, days=args.days)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    with bench_broker("peers") as base:
        bootstrap = base.kafka.bootstrap_servers
        events_topic = base.kafka.events_topic
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        tally = produce_fleet(base, spec, serde, seal=False)
        ends = ends_of(bootstrap, events_topic)
        console.print(f"log pre-filled: {tally.records:,} records, {tally.samples:,} "
                      f"samples, ends {ends}")
        alone = job_alone(read_log(bootstrap, events_topic))
        reference = alone.pop("_totals")
        console.print(f"the job alone: {alone}")
        broker = broker_pid(base)
        work = base.state_dir / "runs"
        mismatches: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for n in range(args.repeats):
            order = engines[n % len(engines):] + engines[:n % len(engines)]
            for engine in order:
                try:
                    result = one_run(engine, f"r{n}", bootstrap, events_topic, ends, work,
                                     broker, console, args.timeout)
                except (RuntimeError, TimeoutError) as exc:  # the others still run
                    failed.append({"engine": engine, "run": n, "error": str(exc)[-2000:]})
                    console.print(f"[red]{engine} r{n} failed: {exc}")
                    continue
                totals = result.pop("_totals")
                if totals != reference:
                    differ = sorted(k for k in reference.keys() | totals.keys()
                                    if reference.get(k) != totals.get(k))
                    mismatches.append({"engine": engine, "run": n, "keys_differing":
                                       len(differ), "examples": {
                                           k: [reference.get(k), totals.get(k)]
                                           for k in differ[:5]}})
                    console.print(f"[red]{engine} r{n}: outputs differ: {mismatches[-1]}")
                runs[engine].append(result)
    results = {e: summary(r) for e, r in runs.items() if r}
    bare = results.get("bare")
    for result in results.values():
        if bare:
            result["ratio_to_bare_records_per_s"] = round(
                result["median_records_per_s"] / bare["median_records_per_s"], 3)
            result["ratio_to_bare_cpu_per_record"] = round(
                result["median_cpu_us_per_record"] / bare["median_cpu_us_per_record"], 2)
    peers = [results[p]["median_records_per_s"] for p in ("quix", "bytewax") if p in results]
    if "fitstream" in results and peers:
        results["fitstream"]["ratio_to_faster_peer"] = round(
            results["fitstream"]["median_records_per_s"] / max(peers), 3)
    report = {
        "benchmark": "the race against the peers: one pre-filled log -> weekly distance "
                     "totals per user, each engine to the log's end (issue 13, item 7)",
        "date": stamp, "machine": f"{os.cpu_count()} cores, {os.uname().sysname} "
                                  f"{os.uname().release}, Python {sys.version.split()[0]}",
        "command": "make bench-peers",
        "git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=False).stdout.strip(),
        "fleet": {"users": spec.users, "days": spec.days, "seed": spec.seed},
        "records": tally.records, "samples": tally.samples, "output_keys": len(reference),
        "knobs": KNOBS, "librdkafka_consumer_overrides": CONSUMER_OVERRIDES,
        "job_alone": alone, "engines": results,
        "outputs_equal": not mismatches, "mismatches": mismatches, "failed_runs": failed,
    }
    out = REPO_ROOT / "bench" / "results" / f"{stamp}-peers.json"
    out.write_text(json.dumps(report, indent=1))
    console.print(f"written {out}")
    for engine, result in results.items():
        console.print(f"{engine:>10}: {result['median_records_per_s']:>7,} records/s, "
                      f"{result['median_cpu_us_per_record']:>6} µs CPU/record, "
                      f"x{result.get('ratio_to_bare_records_per_s', '-')} of bare, "
                      f"others used {result['median_other_cores']} cores meanwhile")
    if mismatches or failed:
        console.print("[red]The engines' outputs differ, or runs failed: see the results.")
        raise SystemExit(1)
    console.print(f"outputs equal across every run ({len(reference)} keys)")


if __name__ == "__main__":
    main()
