"""FitStream roles as child processes on one machine: used by the demo, the benchmarks
and the tests, so all three start the pipeline the same way.

Each child runs ``python -m cli.main <role>`` with the given settings in
its environment and logs to ``<state_dir>/logs/<name>.log``. :meth:`LocalStack.stop`
interrupts the children in reverse order of start and waits for them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fitstream.api_client import api_url
from fitstream.settings import FitStreamSettings


class RoleProcess:
    """One ``fitstream`` subcommand in a child process."""

    def __init__(self, settings: FitStreamSettings, name: str, *args: str) -> None:
        self.name = name
        self.log_path = settings.state_dir / "logs" / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FITSTREAM_")}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *args],
                env={**env, **settings.to_env()}, stdout=log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                               f"{self.log_tail()}")

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout_s: float = 20) -> None:
        self.signal(signal.SIGINT)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class LocalStack:
    """The processes of one local deployment."""

    def __init__(self) -> None:
        self.roles: list[RoleProcess] = []

    def start(self, settings: FitStreamSettings, name: str, *args: str) -> RoleProcess:
        role = RoleProcess(settings, name, *args)
        self.roles.append(role)
        return role

    def check(self) -> None:
        for role in self.roles:
            role.check()

    def stop(self) -> None:
        for role in reversed(self.roles):
            role.signal(signal.SIGINT)
        for role in reversed(self.roles):
            role.stop()
        self.roles.clear()


def wait_for_api(settings: FitStreamSettings, stack: LocalStack, timeout_s: float = 120) -> None:
    url = f"{api_url(settings)}/healthcheck"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not answer on {url} within {timeout_s}s")


def logs_dir(settings: FitStreamSettings) -> Path:
    return settings.state_dir / "logs"
