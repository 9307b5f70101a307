"""What sealing coordinates costs per event (fitstream/privacy/coordinates.py), in one
process with nothing else running: the ingest side (seal + encode against encode) and
the reader side (decode + open against decode), over a simulated fleet's events.

Keys come from a real local file key store in a temporary directory, warmed first
(steady state: every process caches the keys it has used); a user's first event also
pays for creating or reading their key file, which this leaves out.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from fitstream.contracts import AvroSerde
from fitstream.contracts.registry import RepoSchemaRegistry
from fitstream.domain.events import event_subject
from fitstream.privacy.coordinates import open_coordinates, seal_coordinates
from fitstream.privacy.fields import FieldCipher
from fitstream.privacy.keys import CachedKeyStore
from fitstream.privacy.keys.local_file import LocalFileKeyStore
from fitstream.settings import LocalFileKeyStoreConfig, SchemaRegistrySettings
from fitstream.simulator.fleet import ChaosKnobs, FleetSpec, simulate_fleet

SPEC = FleetSpec(users=20, days=7, seed=11, start_ms=1_793_577_600_000,
                 chaos=ChaosKnobs(duplicate=0, out_of_order=0, late=0, malformed=0))


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(repeats: int = 3, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    serde = AvroSerde(RepoSchemaRegistry(SchemaRegistrySettings().repo_registry_path))
    events = [(event_subject(r.event), r.event) for r in simulate_fleet(SPEC)
              if r.event is not None]
    samples = sum(len(e.get("samples") or ()) for _, e in events)
    with tempfile.TemporaryDirectory() as keys_dir:
        cipher = FieldCipher(CachedKeyStore(
            LocalFileKeyStore(LocalFileKeyStoreConfig(), Path(keys_dir)), ttl_s=3600))
        sealed = [serde.encode(s, seal_coordinates(cipher, s, e)) for s, e in events]
        plain = [serde.encode(s, e) for s, e in events]
        runs = []
        for attempt in range(repeats):
            timings = {
                "encode": _timed(lambda: [serde.encode(s, e) for s, e in events]),
                "seal+encode": _timed(lambda: [
                    serde.encode(s, seal_coordinates(cipher, s, e)) for s, e in events]),
                "decode": _timed(lambda: [serde.decode(v) for v in plain]),
                "decode+open": _timed(lambda: [
                    open_coordinates(cipher, *serde.decode(v)) for v in sealed]),
            }
            per_event = {k: round(v / len(events) * 1e6, 2) for k, v in timings.items()}
            runs.append(per_event)
            console.print(f"run {attempt + 1}: µs per event {per_event}")
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {
        "benchmark": "coordinate sealing per event (seal at ingest, open in readers)",
        "events": len(events), "samples": samples,
        "median_us_per_event": median,
        "seal_us_per_event": round(median["seal+encode"] - median["encode"], 2),
        "open_us_per_event": round(median["decode+open"] - median["decode"], 2),
        "plain_bytes_per_event": round(sum(map(len, plain)) / len(plain), 1),
        "sealed_bytes_per_event": round(sum(map(len, sealed)) / len(sealed), 1),
        "runs": runs,
    }
