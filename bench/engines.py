"""The processor alone under each engine, Faust vs Flink (issue 12): one pre-filled log,
every output on (the processor emits all of them), each run on fresh output topics and a
new app id; the time until the whole log is processed and the CPU the engine's process
tree used for it.

- **Faust**: ``fitstream process``; done when its group (``app_id``) has committed the
  events topic's ends. Its offsets are committed every ``commit_interval_s`` (10 s by
  default), which would round a half-minute run up by up to 10 s: the runs commit every
  2 s, as often as the Flink job checkpoints by default.
- **Flink**: ``fitstream process --engine flink --bounded`` (exec'd into the Flink venv);
  done when it exits. Also timed: when its group (``<app_id>-flink``, committed on
  checkpoints) reached the events topic's ends, and when every output topic held its
  final committed records (``LogPosition.ends``: the outputs are transactional). Its
  JVM start-up (the job's "flink job submitted in X s") and the checkpoints the
  mini-cluster logged ("Completed checkpoint N for job J (B bytes,
  checkpointDuration=D ms ...)") are reported too.
- **CPU**: every process of the engine's tree (Faust worker; Flink client python, JVM,
  Python workers), sampled from /proc twice a second, per thread (Linux thread names:
  the JVM names its threads, so the split JVM vs Python, Kafka, GC shows).
- **Recovery**: the unbounded Flink job on the log, SIGKILLed (its process group) after
  its first completed checkpoint while the log is not yet processed, restarted with the
  same command (it resumes from the newest retained checkpoint): the time from restart
  until its group has committed the events topic's ends.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.processor import SPEC
from bench.stack import CLOCK_TICKS, bench_broker, broker_pid, cpu_seconds, run_settings
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.positions import LogPosition
from fitstream.kafka.topics import BOARD_OUTPUTS, OUTPUTS, create_topics
from fitstream.settings import REPO_ROOT, FitStreamSettings
from fitstream.simulator.fleet import FleetSpec
from fitstream.simulator.producer import produce_fleet

# A smaller fleet than bench/processor.py's (80 users x 14 days, 113k records): a Flink
# run of that log takes minutes on this machine, times three per variant.
USERS, DAYS = 30, 14
# Variants: the engine and the Flink settings that differ from the defaults.
VARIANTS: dict[str, dict[str, Any]] = {
    "faust": {},
    "flink-process": {"execution_mode": "process"},
    "flink-thread": {"execution_mode": "thread"},
    "flink-process-p2": {"execution_mode": "process", "parallelism": 2},
    "flink-process-bundle-1000": {"execution_mode": "process", "bundle_size": 1000},
}
SUBMITTED = re.compile(r"flink job submitted in ([\d.]+) s")
CHECKPOINT = re.compile(r"Completed checkpoint (\d+) for job (\w+) \((\d+) bytes, "
                        r"checkpointDuration=(\d+) ms")
SAMPLE_S = 0.5


def spec(users: int, days: int) -> FleetSpec:
    return FleetSpec(users=users, days=days, seed=SPEC.seed, start_ms=SPEC.start_ms,
                     chaos=SPEC.chaos)


# --- CPU of a process tree, per thread ----------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _kind(pid: int, root: int) -> str:
    """client (the process we started: Faust worker, or the Flink job's client python),
    jvm, or python-worker (Flink's Python workers, process mode)."""
    if pid == root:
        return "client"
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    return "jvm" if exe.endswith("java") else ("python-worker" if "python" in exe else
                                               Path(exe).name)


def _thread_group(name: str) -> str:
    """A thread name without its numbers (``GC Thread#1`` -> ``GC Thread#``)."""
    return re.sub(r"\d+", "", name).strip() or name


class TreeCpu:
    """CPU seconds of a process tree, sampled per thread until :meth:`stop`: the last
    sample of each thread counts (a thread that ends loses at most one interval)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.threads: dict[tuple[int, int], tuple[str, str, float]] = {}
        self.kinds: dict[int, str] = {}
        self.marks: dict[str, float] = {}
        self.snapshots: dict[str, dict[tuple[int, int], tuple[str, str, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_S)

    def sample(self) -> None:
        tree, pids, todo = _children(), [], [self.root]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += tree.get(pid, [])
        for pid in pids:
            kind = self.kinds.get(pid)
            if kind is None:
                with contextlib.suppress(OSError):
                    kind = self.kinds[pid] = _kind(pid, self.root)
            if kind is None:
                continue
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with contextlib.suppress(OSError, IndexError, ValueError):
                        stat = (task / "stat").read_text()
                        name = stat[stat.index("(") + 1:stat.rindex(")")]
                        fields = stat.rsplit(")", 1)[1].split()
                        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                        self.threads[(pid, int(task.name))] = (kind, _thread_group(name), cpu)

    def mark(self, name: str) -> None:
        """Remember the tree's CPU so far under ``name`` (e.g. at the job's submission)."""
        self.sample()
        self.marks[name] = self.total()
        self.snapshots[name] = dict(self.threads)

    def total(self) -> float:
        return sum(cpu for _, _, cpu in self.threads.values())

    def by_kind(self) -> dict[str, float]:
        kinds: Counter[str] = Counter()
        for kind, _, cpu in self.threads.values():
            kinds[kind] += cpu
        return {k: round(v, 2) for k, v in kinds.most_common()}

    def pid_of(self, kind: str) -> int | None:
        return next((pid for pid, k in self.kinds.items() if k == kind), None)

    def top_threads(self, n: int = 8, since: str | None = None) -> dict[str, float]:
        """The threads (grouped by name) that used the most CPU, since a mark."""
        before = self.snapshots.get(since, {}) if since else {}
        groups: Counter[str] = Counter()
        for tid, (kind, name, cpu) in self.threads.items():
            groups[f"{kind}: {name}"] += cpu - (before[tid][2] if tid in before else 0.0)
        return {k: round(v, 2) for k, v in groups.most_common(n)}

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()


# --- Progress on the log ---------------------------------------------------------------

class Progress:
    """Polls, once a second, the group's committed offsets on the events topic and the
    reachable ends of every output topic; remembers when each changed."""

    def __init__(self, settings: FitStreamSettings, group: str, started: float,
                 outputs: bool = True) -> None:
        """``outputs``: also follow the output topics (reading their tails costs the
        benchmark's process CPU beside the engine: only for the transactional ones)."""
        self.settings, self.group, self.started = settings, group, started
        self.follow_outputs = outputs
        kafka = settings.kafka
        self.outputs = sorted({o.topic(kafka) for o in (*OUTPUTS, *BOARD_OUTPUTS)}
                              | {kafka.dlq_topic})
        self.position = LogPosition(kafka)
        self.goal = self.position.ends(kafka.events_topic)
        self.processed_s: float | None = None  # group at the events topic's ends
        self.committed = 0
        self.commits: list[tuple[float, int]] = []  # (s, records committed) at each change
        self.timeline: list[tuple[float, int]] = []  # (s, records in every output)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        kafka = self.settings.kafka
        while not self._stop.wait(1.0):
            now = time.monotonic() - self.started
            done = self.position.committed(kafka.events_topic, self.group)
            if sum(done.values()) != self.committed:
                self.commits.append((round(now, 2), sum(done.values())))
            self.committed = sum(done.values())
            if self.processed_s is None and all(done.get(p, 0) >= end
                                                for p, end in self.goal.items()):
                self.processed_s = round(now, 2)
            if self.follow_outputs:
                self.timeline.append((round(now, 2), self.output_records()))

    def output_records(self) -> int:
        return sum(sum(self.position.ends(t).values()) for t in self.outputs)

    def wait_processed(self, alive, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.processed_s is None:
            alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.group} did not reach the log's end in "
                                   f"{timeout_s} s (committed {self.committed:,})")
            time.sleep(0.2)

    def stop(self) -> dict[str, Any]:
        """Stop polling; the final output count and when the outputs first held it."""
        self._stop.set()
        self._thread.join()
        if not self.follow_outputs:
            self.position.close()
            return {}
        final = self.output_records()
        self.position.close()
        reached = next((t for t, n in self.timeline if n == final), None)
        return {"output_records": final, "outputs_committed_s": reached}


# --- One run -----------------------------------------------------------------------------

def variant_settings(base: FitStreamSettings, run: str, variant: str) -> FitStreamSettings:
    settings = run_settings(base, run)
    processor = settings.processor
    if variant == "faust":
        update = {"commit_interval_s": 2.0}
    else:
        update = {"engine": "flink",
                  "flink": processor.flink.model_copy(update=VARIANTS[variant])}
    return settings.model_copy(update={"processor": processor.model_copy(update=update)})


def start(settings: FitStreamSettings, *args: str) -> tuple[subprocess.Popen, Path]:
    """``fitstream process`` as an operator starts it, in a session of its own (a kill
    takes the Flink job's JVM and Python workers too)."""
    log = settings.state_dir / "logs" / "processor.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "process", *args],
                                cwd=REPO_ROOT, env={**env, **settings.to_env()}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def flink_log(settings: FitStreamSettings) -> Path | None:
    """The mini-cluster's log (each JVM start rewrites it)."""
    python = settings.processor.flink.python
    venv = (python if python.is_absolute() else REPO_ROOT / python).parent.parent
    logs = sorted(venv.glob("lib/python*/site-packages/pyflink/log/flink-*.log"))
    return logs[0] if logs else None


def checkpoints(settings: FitStreamSettings, log: Path | None) -> dict[str, Any]:
    """This run's completed checkpoints, from the mini-cluster's log (the job ids are
    the directories under this run's checkpoint directory)."""
    jobs = {p.name for p in (settings.state_dir / settings.processor.flink.checkpoint_dir)
            .glob("*")}
    found = [(int(m[3]), int(m[4])) for m in CHECKPOINT.finditer(
        log.read_text(errors="replace") if log else "") if m[2] in jobs]
    if not found:
        return {"completed": 0}
    durations = sorted(d for _, d in found)
    return {"completed": len(found), "duration_ms_median": statistics.median(durations),
            "duration_ms_p95": durations[max(0, round(0.95 * len(durations)) - 1)],
            "duration_ms_max": durations[-1], "state_bytes_max": max(b for b, _ in found),
            "state_bytes_last": found[-1][0]}


def keep_flink_log(settings: FitStreamSettings, name: str) -> Path | None:
    """Copy the mini-cluster's log into the run's logs (the next JVM rewrites it)."""
    log = flink_log(settings)
    if log is None:
        return None
    kept = settings.state_dir / "logs" / f"minicluster-{name}.log"
    kept.write_bytes(log.read_bytes())
    return kept


def failures(log: Path | None) -> dict[str, int]:
    """Restarts and failed checkpoints the mini-cluster logged."""
    text = log.read_text(errors="replace") if log else ""
    return {"job_restarts": text.count("switched from state RUNNING to RESTARTING"),
            "checkpoints_failed": len(re.findall(r"Failed to trigger checkpoint|"
                                                 r"declined|Checkpoint \d+ of job \w+ expired",
                                                 text))}


def jstack(pid: int | None, into: Path) -> None:
    """One thread dump of the JVM (what its busiest threads are doing)."""
    if pid is not None:
        with into.open("wb") as out:
            subprocess.run(["jstack", str(pid)], stdout=out, stderr=subprocess.STDOUT,
                           timeout=60, check=False)


def submitted_s(log: Path) -> float | None:
    found = SUBMITTED.findall(log.read_text(errors="replace"))
    return float(found[-1]) if found else None


def one_run(base: FitStreamSettings, run: str, variant: str, records: int,
            console: Console, timeout_s: float) -> dict[str, Any]:
    settings = variant_settings(base, run, variant)
    create_topics(settings)
    broker = broker_pid(base)
    broker_before = cpu_seconds(broker)
    started = time.monotonic()
    flink = variant != "faust"
    proc, log = start(settings, *(["--bounded"] if flink else []))
    cpu = TreeCpu(proc.pid)
    progress = Progress(settings, settings.processor.consumer_group, started, outputs=flink)

    dumped = not run.endswith("0")  # a thread dump in each variant's first run

    def alive() -> None:
        nonlocal dumped
        if proc.poll() is not None and not flink:
            raise RuntimeError(f"{variant} exited with {proc.returncode}: "
                               f"{log.read_text(errors='replace')[-3000:]}")
        if flink and submitted_s(log) is not None and "submitted" not in cpu.marks:
            cpu.mark("submitted")
        if not dumped and time.monotonic() - started > cpu.marks.get("submitted", 1e9) + 8:
            dumped = True  # 8 s of CPU after submission: mid-stream
            jstack(cpu.pid_of("jvm"), settings.state_dir / "logs" / "jstack.txt")

    try:
        if flink:
            while proc.poll() is None:
                alive()
                if time.monotonic() - started > timeout_s:
                    raise TimeoutError(f"{variant} did not finish in {timeout_s} s")
                time.sleep(0.2)
            seconds = time.monotonic() - started
            if proc.returncode != 0:
                raise RuntimeError(f"{variant} exited with {proc.returncode}: "
                                   f"{log.read_text(errors='replace')[-3000:]}")
        else:
            progress.wait_processed(alive, timeout_s)
            seconds = time.monotonic() - started
        cpu.stop()
        broker_cpu = cpu_seconds(broker) - broker_before
    finally:
        kill_group(proc)
    time.sleep(1.5)  # one more poll of the group: a bounded job's last commit
    outputs = progress.stop()
    total = cpu.total()
    result = {
        "seconds": round(seconds, 2),
        "processed_s": progress.processed_s,
        **outputs,
        "cpu_s": round(total, 2),
        "cpu_us_per_record": round(total / records * 1e6),
        "cpu_by_process": cpu.by_kind(),
        "cpu_top_threads": cpu.top_threads(),
        "broker_cpu_s": round(broker_cpu, 2),
        "group_committed_at_end": progress.committed,
    }
    if flink:
        kept = keep_flink_log(settings, run)
        result["failures"] = failures(kept)
        result["cpu_top_threads_after_submit"] = cpu.top_threads(since="submitted")
        result["submitted_s"] = submitted_s(log)
        start_cpu = cpu.marks.get("submitted")
        if start_cpu is not None and result["submitted_s"] is not None:
            result["startup_cpu_s"] = round(start_cpu, 2)
            after = total - start_cpu
            result["cpu_us_per_record_after_submit"] = round(after / records * 1e6)
            result["records_per_s_after_submit"] = round(
                records / (seconds - result["submitted_s"]))
        result["checkpoints"] = checkpoints(settings, kept)
    console.print(f"{variant} {run}: {result}")
    return result


def unbounded_until_processed(settings: FitStreamSettings, name: str, timeout_s: float,
                              ) -> dict[str, Any]:
    """Start the unbounded job (the same command each time: it resumes from the newest
    checkpoint) and time it until its group has committed the events topic's ends."""
    started = time.monotonic()
    proc, log = start(settings)
    before = len(log.read_text(errors="replace"))
    progress = Progress(settings, settings.processor.consumer_group, started, outputs=False)

    def alive() -> None:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace")[-3000:])

    try:
        progress.wait_processed(alive, timeout_s)
    finally:
        kill_group(proc)
        progress.stop()
    text = log.read_text(errors="replace")[before:]
    restored, submitted = re.search(r"restored from (\S+)", text), SUBMITTED.search(text)
    kept = keep_flink_log(settings, name)
    return {"to_processed_s": progress.processed_s,
            "submitted_s": float(submitted[1]) if submitted else None,
            "first_commit_s": progress.commits[0][0] if progress.commits else None,
            "commits": progress.commits, "restored_from": restored[1] if restored else None,
            "checkpoints": checkpoints(settings, kept), "failures": failures(kept)}


def recovery(base: FitStreamSettings, console: Console, timeout_s: float) -> dict[str, Any]:
    """The unbounded job from offset 0 to the log's end (the baseline); then on fresh
    topics killed after its first checkpoint, restarted, timed to the log's end."""
    settings = variant_settings(base, "unbounded", "flink-process")
    create_topics(settings)
    baseline = unbounded_until_processed(settings, "unbounded", timeout_s)
    console.print(f"unbounded, no kill: {baseline}")
    settings = variant_settings(base, "recovery", "flink-process")
    create_topics(settings)
    group = settings.processor.consumer_group
    chk_root = settings.state_dir / settings.processor.flink.checkpoint_dir
    started = time.monotonic()
    proc, log = start(settings)
    position = LogPosition(settings.kafka)
    goal = sum(position.ends(settings.kafka.events_topic).values())
    try:
        while not list(chk_root.glob("*/chk-*/_metadata")):
            if proc.poll() is not None or time.monotonic() - started > timeout_s:
                raise RuntimeError(f"no checkpoint: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.1)
        first_chk_s = time.monotonic() - started
        # Its source commits the checkpoint's offsets when notified: wait for that commit
        # (or 10 s), to know how far the checkpoint went.
        while (sum(position.committed(settings.kafka.events_topic, group).values()) == 0
               and time.monotonic() - started < first_chk_s + 10):
            time.sleep(0.1)
    finally:
        kill_group(proc)
    killed_at = time.monotonic() - started
    committed = sum(position.committed(settings.kafka.events_topic, group).values())
    position.close()
    keep_flink_log(settings, "killed")
    console.print(f"recovery: killed {killed_at:.1f} s after start, first checkpoint at "
                  f"{first_chk_s:.1f} s, {committed:,} of {goal:,} committed")
    assert committed < goal, "the kill came after the whole log: not mid-stream"
    restart = unbounded_until_processed(settings, "restarted", timeout_s)
    result = {"unbounded_no_kill": baseline, "first_checkpoint_s": round(first_chk_s, 2),
              "killed_at_s": round(killed_at, 2), "committed_at_kill": committed,
              "records": goal, "restart_to_processed_s": restart["to_processed_s"],
              "restart_submitted_s": restart["submitted_s"], "restart": restart}
    console.print(f"recovery: {result}")
    return result


def summary(runs: list[dict[str, Any]], records: int, samples: int) -> dict[str, Any]:
    median = statistics.median(r["seconds"] for r in runs)
    out = {"median_seconds": median, "records_per_s": round(records / median),
           "samples_per_s": round(samples / median),
           "cpu_us_per_record": statistics.median(r["cpu_us_per_record"] for r in runs),
           "runs": runs}
    for key in ("submitted_s", "processed_s", "outputs_committed_s",
                "cpu_us_per_record_after_submit", "records_per_s_after_submit"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[f"median_{key}"] = statistics.median(values)
    return out


def run(repeats: int = 3, console: Console | None = None, variants: list[str] | None = None,
        users: int = USERS, days: int = DAYS, kill: bool = True,
        timeout_s: float = 600) -> dict[str, Any]:
    console = console or Console(stderr=True)
    chosen = variants or ["faust", "flink-process", "flink-thread"]
    unknown = set(chosen) - set(VARIANTS)
    assert not unknown, f"unknown variants {unknown}: choose from {list(VARIANTS)}"
    with bench_broker("engines") as base:
        serde = AvroSerde(registry_from_settings(base.schema_registry))
        tally = produce_fleet(base, spec(users, days), serde)
        console.print(f"log pre-filled: {tally.records:,} records, {tally.samples:,} samples")
        results = {}
        for variant in chosen:
            runs = [one_run(base, f"{variant.replace('-', '')}{n}", variant, tally.records,
                            console, timeout_s) for n in range(repeats)]
            results[variant] = summary(runs, tally.records, tally.samples)
        report = {"benchmark": "processor alone, Faust vs Flink (pre-filled log → whole log "
                               "processed, every output on)",
                  "fleet": {"users": users, "days": days, "seed": SPEC.seed},
                  "records": tally.records, "samples": tally.samples, "variants": results,
                  "flink_stage_alone": stage_alone(run_settings(base, "alone"), console)}
        if kill:
            report["recovery"] = recovery(base, console, timeout_s)
    return report


# --- The Flink stage's Python alone -----------------------------------------------------

class DictMap(dict):
    """A store of :class:`~streams.flink.stages.MapStoreState` in a dict: every key the
    core reads belongs to the record's user (``user/workout`` or ``user``), so one dict
    per store holds every user's entries apart."""

    def put(self, key: str, value: str) -> None:
        self[key] = value

    def remove(self, key: str) -> None:
        self.pop(key, None)


def stage_alone(settings: FitStreamSettings, console: Console) -> dict[str, Any]:
    """The Flink job's per-record Python (streams/flink/stages.py: decode, the core for
    a batch of one, JSON state, encode every output) over the whole log, without Flink:
    what is left of the Flink run's time is Flink's (transfer, serialization, JVM)."""
    from confluent_kafka import Consumer, TopicPartition

    from fitstream.domain import pipeline
    from fitstream.kafka.clients import consumer_config
    from fitstream.privacy.fields import FieldCipher
    from fitstream.privacy.keys import key_store
    from streams.flink.stages import APPLIED_ERASURE, BoardStage, MapStoreState, UserStage

    topic = settings.kafka.events_topic
    consumer = Consumer(consumer_config(settings.kafka, "bench-stage-alone",
                                        **{"enable.partition.eof": True}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    log, ended = [], set()
    while len(ended) < len(partitions):
        for message in consumer.consume(10_000, timeout=1):
            if message.error():
                ended.add(message.partition())
            else:
                log.append((message.key(), message.value(), message.partition(),
                            message.offset(), message.timestamp()[1]))
    consumer.close()
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    board_topic = settings.kafka.board_completions_topic

    def replay() -> int:
        users = UserStage(settings, serde, FieldCipher(key_store(settings)), lambda _: None)
        boards = BoardStage(settings, serde)
        user_state = MapStoreState({s: DictMap() for s in (*pipeline.STATE_STORES,
                                                           APPLIED_ERASURE)})
        board_state = MapStoreState({pipeline.BOARDS: DictMap()})
        outputs = 0
        for key, value, partition, offset, written_at in log:
            for out in users.process(key, value, partition, offset, written_at, user_state):
                outputs += 1
                if out.topic == board_topic:
                    outputs += len(boards.process(out.value, board_state))
        return outputs

    wall, cpu = time.perf_counter(), time.process_time()
    outputs = replay()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # Once more under cProfile: where that time goes (own time per function, with the
    # profiler's overhead; the shares matter, not the totals).
    profile = cProfile.Profile()
    profile.runcall(replay)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    profiled = sum(tt for _, _, tt, _, _ in stats.values())
    top = sorted(stats.items(), key=lambda item: -item[1][3])[:15]
    result = {"records": len(log), "outputs": outputs, "seconds": round(wall, 2),
              "cpu_us_per_record": round(cpu / len(log) * 1e6),
              "profile_cumulative_share": {
                  f"{Path(f).name}:{line} {name}": round(ct / profiled, 3)
                  for (f, line, name), (_, _, _, ct, _) in top},
              "profile_own_share": {
                  f"{Path(f).name}:{line} {name}": round(tt / profiled, 3)
                  for (f, line, name), (_, _, tt, _, _) in sorted(
                      stats.items(), key=lambda item: -item[1][2])[:12]}}
    console.print(f"the Flink stage's Python alone: {result}")
    return result
