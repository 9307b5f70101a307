"""The embedded Kafka-wire broker (the pinned ``noida-db``) for the demo and the tests.

Production talks to Apache Kafka through the same bootstrap-servers setting and
never touches this module.

Lifecycle: :func:`start` returns once the broker answers a metadata request;
:func:`stop` returns once its process has exited and the port is free, because
the broker refuses to start again while the old process lives.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fitstream.settings import FitStreamSettings


class BrokerError(RuntimeError):
    pass


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    address: str
    data_dir: Path


def data_dir(settings: FitStreamSettings) -> Path:
    return settings.state_dir / "broker"


def _executable() -> str:
    beside_python = Path(sys.executable).parent / "noida-db"
    found = str(beside_python) if beside_python.exists() else shutil.which("noida-db")
    if not found:
        raise BrokerError("noida-db is not installed: run `make setup` first")
    return found


def _pid(directory: Path) -> int | None:
    control = directory / "noida.control.json"
    try:
        pid = int(json.loads(control.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def status(settings: FitStreamSettings) -> BrokerStatus:
    b = settings.broker
    directory = data_dir(settings)
    pid = _pid(directory)
    return BrokerStatus(pid is not None and _port_open(b.host, b.port), pid,
                        f"{b.host}:{b.port}", directory)


def start(settings: FitStreamSettings) -> BrokerStatus:
    """Start the broker in the background (a no-op if it already runs) and wait until ready."""
    b = settings.broker
    directory = data_dir(settings)
    current = status(settings)
    if current.running:
        return current
    if _port_open(b.host, b.port):
        raise BrokerError(f"{b.host}:{b.port} is taken by another process")
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [_executable(), "up", "--only", "kafka", "--kafka-port", str(b.port),
         "--host", b.host, "--data-dir", str(directory)],
        capture_output=True, text=True, timeout=b.start_timeout_s, check=False,
    )
    if proc.returncode != 0:
        raise BrokerError(f"noida-db up failed ({proc.returncode}): {proc.stderr.strip()}")
    deadline = time.monotonic() + b.start_timeout_s
    while time.monotonic() < deadline:
        if _ready(settings):
            return status(settings)
        time.sleep(0.2)
    raise BrokerError(f"broker did not answer on {b.host}:{b.port} within {b.start_timeout_s}s")


def _ready(settings: FitStreamSettings) -> bool:
    from confluent_kafka.admin import AdminClient

    if not _port_open(settings.broker.host, settings.broker.port):
        return False
    admin = AdminClient({"bootstrap.servers": f"{settings.broker.host}:{settings.broker.port}"})
    try:
        admin.list_topics(timeout=2)
    except Exception:
        return False
    return True


def stop(settings: FitStreamSettings) -> bool:
    """Stop the broker and wait for its process to exit; False if it was not running."""
    b = settings.broker
    directory = data_dir(settings)
    pid = _pid(directory)
    if pid is None:
        return False
    subprocess.run([_executable(), "down", "--data-dir", str(directory)],
                   capture_output=True, text=True, timeout=b.stop_timeout_s, check=False)
    deadline = time.monotonic() + b.stop_timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid) and not _port_open(b.host, b.port):
            return True
        time.sleep(0.2)
    raise BrokerError(f"broker pid {pid} still running after {b.stop_timeout_s}s")
