"""Groundwork probe for the Flink issue (run with the app venv, under the heavy lock):
the differential test's crafted log through the Faust processor and through the Flink
job (streams/flink/job.py in .venv-flink), compared with tests/engines/canonical.py;
plus thread vs process mode, exactly-once visibility, and a SIGKILL + restore.

``python -m tests.engines.flink_probe BOOTSTRAP STATE_DIR [steps...]``; each step
prints one ``RESULT`` line. Not a pytest test yet: it is what the test will become.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from cli.dev.local_stack import LocalStack
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.kafka.clients import consumer_config
from fitstream.kafka.dead_letter import read_headers
from fitstream.kafka.topics import OUTPUTS
from fitstream.settings import BrokerSettings, FitStreamSettings, KafkaSettings
from tests.conftest import isolated
from tests.engines.canonical import canonical
from tests.engines.test_differential import crafted_log, processed, produce

ROOT = Path(__file__).resolve().parents[2]
FLINK_PYTHON = ROOT / ".venv-flink" / "bin" / "python"


def read_all(settings: FitStreamSettings, topic: str, isolation: str) -> list[Any]:
    """Every record of a topic up to its end, by partition EOF (a transactional topic
    ends in a commit marker that no consumer receives, so offsets cannot tell)."""
    consumer = Consumer(consumer_config(settings.kafka, "flink-probe-reader", **{
        "isolation.level": isolation, "enable.partition.eof": True}))
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    records, done, started = [], set(), time.monotonic()
    while len(done) < len(partitions) and time.monotonic() - started < 60:
        for message in consumer.consume(5000, timeout=1):
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    done.add(message.partition())
                continue
            records.append(message)
    consumer.close()
    return records


def outputs(settings: FitStreamSettings, isolation: str = "read_committed") -> dict:
    serde = AvroSerde(registry_from_settings(settings.schema_registry))
    by_subject = {o.subject: o.result_field for o in OUTPUTS}
    found: dict[str, list[dict[str, Any]]] = {}
    for topic in sorted({o.topic(settings.kafka) for o in OUTPUTS}):
        for message in read_all(settings, topic, isolation):
            subject, record = serde.decode(message.value())
            if record.get("kind") == "leaderboard_top":
                continue
            found.setdefault(by_subject[subject], []).append(record)
    found["rejections"] = []
    for message in read_all(settings, settings.kafka.dlq_topic, isolation):
        _, event = serde.decode(message.value())
        found["rejections"].append({"reason": read_headers(message.headers())["dlq.reason"],
                                    "event_id": event["event_id"]})
    return found


def counts(settings: FitStreamSettings, isolation: str) -> dict[str, int]:
    topics = sorted({o.topic(settings.kafka) for o in OUTPUTS} | {settings.kafka.dlq_topic})
    return {t.split(".", 1)[1]: len(read_all(settings, t, isolation)) for t in topics}


def flink_env(settings: FitStreamSettings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
    env.update(settings.to_env())
    env.update(extra)
    return env


def run_flink(settings: FitStreamSettings, name: str, *args: str, timeout: float = 420,
              **extra: str) -> tuple[int, float]:
    log = settings.state_dir / f"flink-{name}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.run([str(FLINK_PYTHON), "-m", "streams.flink.job", *args],
                              cwd=ROOT, env=flink_env(settings, **extra), stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    elapsed = time.monotonic() - started
    print(f"RESULT flink-{name}: rc={proc.returncode} wall={elapsed:.1f}s log={log}", flush=True)
    if proc.returncode:
        print(log.read_text()[-4000:], flush=True)
    return proc.returncode, elapsed


def fresh(broker: FitStreamSettings, root: Path, name: str) -> FitStreamSettings:
    settings = isolated(broker, root / name, name)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    produce(settings, LOG)
    return settings


LOG = crafted_log()


def main() -> None:
    bootstrap, state = sys.argv[1], Path(sys.argv[2])
    steps = sys.argv[3:] or ["faust", "process", "thread", "kill"]
    port = bootstrap.rsplit(":", 1)[1]
    broker = FitStreamSettings(state_dir=state, broker=BrokerSettings(port=int(port)),
                               kafka=KafkaSettings(bootstrap_servers=bootstrap))
    stamp = str(int(time.time()))[-5:]
    results: dict[str, Any] = {}
    print(f"RESULT log: {len(LOG)} events", flush=True)
    if "faust" in steps:
        settings = fresh(broker, state, f"fa{stamp}")
        stack, started = LocalStack(), time.monotonic()
        stack.start(settings, "processor", "process")
        try:
            processed(settings, stack)
        finally:
            stack.stop()
        print(f"RESULT faust: wall={time.monotonic() - started:.1f}s", flush=True)
        results["faust"] = canonical(outputs(settings, "read_uncommitted"))
    def flink_mode(mode: str, timeout: float) -> None:
        settings = fresh(broker, state, f"fl{mode[0]}{stamp}")
        rc, _ = run_flink(settings, mode, "--bounded", timeout=timeout, FLINK_MODE=mode)
        if rc == 0:
            print(f"RESULT {mode} committed counts: {counts(settings, 'read_committed')}")
            print(f"RESULT {mode} uncommitted counts: {counts(settings, 'read_uncommitted')}")
            results[mode] = canonical(outputs(settings))
            compare(results, mode)

    if "process" in steps:
        flink_mode("process", 240)
    if "kill" in steps:
        settings = fresh(broker, state, f"fk{stamp}")
        checkpoints = settings.state_dir / "flink" / "checkpoints"
        log = (settings.state_dir / "flink-killed.log").open("wb")
        proc = subprocess.Popen([str(FLINK_PYTHON), "-m", "streams.flink.job"], cwd=ROOT,
                                env=flink_env(settings, FLINK_CHECKPOINT_INTERVAL="2 s"),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        done = []
        while time.monotonic() - started < 180 and proc.poll() is None:
            done = sorted(checkpoints.glob("*/chk-*/_metadata"))
            if done:
                break
            time.sleep(0.5)
        print(f"RESULT kill: first checkpoint after {time.monotonic() - started:.1f}s: "
              f"{[str(p.parent) for p in done]}", flush=True)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        print(f"RESULT kill: uncommitted before restore: "
              f"{counts(settings, 'read_uncommitted')}", flush=True)
        print(f"RESULT kill: committed before restore: "
              f"{counts(settings, 'read_committed')}", flush=True)
        if done:
            restore_from = str(max(done, key=lambda p: int(p.parent.name[4:])).parent)
            restart = time.monotonic()
            # Restored unbounded, as a restarted processor runs: stopped (killed again)
            # once its committed outputs equal the clean run's, or after 150 s.
            log = (settings.state_dir / "flink-restored.log").open("wb")
            proc = subprocess.Popen(
                [str(FLINK_PYTHON), "-m", "streams.flink.job", "--restore", restore_from],
                cwd=ROOT, env=flink_env(settings, FLINK_CHECKPOINT_INTERVAL="2 s"),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            clean, result = results.get("process"), None
            while time.monotonic() - restart < 150 and proc.poll() is None:
                time.sleep(3)
                result = canonical(outputs(settings))
                if clean is not None and result == clean:
                    break
            print(f"RESULT kill: restored from {restore_from}; equal to the clean run: "
                  f"{clean is not None and result == clean} after "
                  f"{time.monotonic() - restart:.1f}s (alive={proc.poll() is None})", flush=True)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            else:
                print((settings.state_dir / "flink-restored.log").read_text()[-4000:])
            if result is not None:
                results["restored"] = result
                compare(results, "restored")
            print(f"RESULT kill: committed after restore: "
                  f"{counts(settings, 'read_committed')}", flush=True)
        else:
            print((settings.state_dir / "flink-killed.log").read_text()[-4000:])
    if "thread" in steps:
        try:
            flink_mode("thread", 100)
        except subprocess.TimeoutExpired:
            print("RESULT flink-thread: no end within 100 s")
    if "faust" in results:
        print(f"RESULT faust sizes: { {k: len(v) for k, v in results['faust'].items()} }")


def compare(results: dict[str, Any], name: str) -> None:
    reference, result = results.get("faust"), results.get(name)
    if reference is not None and result is not None:
        diffs = [k for k in reference if reference[k] != result.get(k)]
        sizes = {k: len(v) for k, v in result.items()}
        print(f"RESULT compare {name} vs faust: differing={diffs} sizes={sizes}", flush=True)
        for k in diffs[:3]:
            a, b = reference[k], result.get(k)
            if isinstance(a, dict):
                only_a = sorted(set(a) - set(b or {}))[:5]
                only_b = sorted(set(b or {}) - set(a))[:5]
                changed = [x for x in a if b and x in b and a[x] != b[x]][:3]
                print(f"  {k}: only faust {only_a} only flink {only_b} changed {changed}")
                for x in changed[:1]:
                    print(f"    faust {a[x]}\n    flink {b[x]}")
            else:
                print(f"  {k}: only faust {sorted(set(a) - set(b or []))[:5]} "
                      f"only flink {sorted(set(b or []) - set(a))[:5]}")


if __name__ == "__main__":
    main()
