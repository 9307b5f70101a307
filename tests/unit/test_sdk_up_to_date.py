"""The committed client SDK (clients/python) and its document (clients/openapi.json) are
what ``make sdk`` makes from today's API: regenerated into a temporary directory with
the same script, byte for byte (about 7 s: the generator runs in the SDK venv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "clients"
GENERATOR = REPO / ".venv-sdk" / "bin" / "openapi-python-client"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, caches left out."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not {"__pycache__", ".ruff_cache"} & set(p.parts)
            and not any(part.endswith(".egg-info") for part in p.parts)}


def test_committed_client_is_generated_from_todays_api(tmp_path):
    if not GENERATOR.exists():
        pytest.fail("no SDK venv (.venv-sdk): run `make sdk-venv` (make test builds it)")
    subprocess.run([sys.executable, str(CLIENTS / "generate.py"), str(tmp_path)], check=True,
                   cwd=REPO, capture_output=True)
    fresh = {"openapi.json": (tmp_path / "openapi.json").read_bytes(),
             **{f"python/{k}": v for k, v in tree(tmp_path / "python").items()}}
    committed = {"openapi.json": (CLIENTS / "openapi.json").read_bytes(),
                 **{f"python/{k}": v for k, v in tree(CLIENTS / "python").items()}}
    differ = sorted(name for name in fresh.keys() | committed.keys()
                    if fresh.get(name) != committed.get(name))
    assert differ == [], (
        "the committed client SDK differs from the one generated from today's API; run "
        "`make sdk` and commit clients/. Files that differ (clients/...): "
        + ", ".join(differ))
