"""The Flink venv (``make flink-venv``, part of ``make setup``): its pins, and the domain
core, the contracts and the Flink adapter importing cleanly there as in the app venv,
so one pipeline core runs under both engines."""

from __future__ import annotations

import json
import subprocess

from fitstream.settings import REPO_ROOT, FlinkSettings

SHARED = ("fitstream.domain.pipeline", "fitstream.contracts", "fitstream.settings",
          "fitstream.kafka.topics", "fitstream.privacy.coordinates", "fitstream.privacy.erasures",
          "streams.flink.stages")
PROBE = f"""
import importlib, json
from importlib.metadata import version
for name in {SHARED!r}:
    importlib.import_module(name)
import streams.flink.functions, streams.flink.job
print(json.dumps({{p: version(p) for p in ("apache-flink", "numpy", "pyarrow", "fastavro",
                                         "pydantic", "confluent-kafka")}}))
"""


def test_the_core_and_the_contracts_import_in_both_venvs():
    python = REPO_ROOT / FlinkSettings().python
    done = subprocess.run([str(python), "-c", PROBE], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    versions = json.loads(done.stdout.splitlines()[-1])
    pins = dict(line.split("==") for line in (REPO_ROOT / "requirements-flink.lock")
                .read_text().splitlines() if "==" in line)
    assert versions == {p: pins[p] for p in versions}
    assert versions["apache-flink"] == "2.0.2"
    # The app venv imports the same modules (its own pins).
    import importlib
    for name in SHARED:
        importlib.import_module(name)
