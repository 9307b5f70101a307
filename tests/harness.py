"""Starting the real components for tests: free ports and ClickHouse 18.16.

FitStream's own processes start through cli.dev.local_stack, as in the demo."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REQUIRE_CLICKHOUSE_SERVER = os.environ.get("FITSTREAM_REQUIRE_CLICKHOUSE_SERVER") == "1"
REQUIRE_S3_SERVER = os.environ.get("FITSTREAM_REQUIRE_S3_SERVER") == "1"


_HANDED_OUT: set[int] = set()
_PICK = random.SystemRandom()


def _ephemeral_low() -> int | None:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    """A loopback port free now, for a server a test starts next (seconds later for the
    processor's web port or the API).

    Not ``bind(0)``: that port comes from the kernel's ephemeral range, from which every
    outbound connection (the Kafka clients', httpx's, other helpers' suites) takes its
    local port, so it could be taken again before the server binds it. Below that range
    only another test's pick can collide: random, checked free, and never handed out
    twice by this process (ClickHouse takes three at once)."""
    low = _ephemeral_low()
    if low is not None and low > 20_000:
        for _ in range(200):
            port = _PICK.randrange(15_000, low)
            if port in _HANDED_OUT:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float, proc: subprocess.Popen | None = None,
                  ) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.3)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout_s}s")


def stop_process(proc: subprocess.Popen | None) -> None:
    """Terminate a server the tests started; kill it if it has not exited in 20 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(done: Callable[[], bool], what: str, *,
               progress: Callable[[], object] | None = None,
               alive: Callable[[], object] | None = None,
               stall_s: float = 120, overall_s: float = 1800, poll_s: float = 0.2) -> None:
    """Wait for ``done()``, on progress rather than on a fixed deadline.

    A busy machine (two stacks and a suite on two cores) makes any fixed deadline a
    guess. Here the clock that fails the test is the stall clock: it restarts whenever
    ``progress()`` returns something new (a count of versions, an offset), so slow but
    moving work is waited for, up to ``overall_s``, and stuck work fails after
    ``stall_s`` with a message naming ``what`` was awaited and the last progress seen.
    ``alive()`` is called every poll: it may raise (e.g. ``LocalStack.check``), and a
    returned ``False`` fails the wait at once (the thing that should make progress died).
    """
    started = last_change = time.monotonic()
    seen = progress() if progress else None
    while not done():
        now = time.monotonic()
        if alive is not None and alive() is False:
            raise AssertionError(f"gave up waiting for {what}: what should make it happen "
                                 f"has stopped (last progress: {seen!r})")
        if progress is not None and (current := progress()) != seen:
            seen, last_change = current, now
        if now - last_change > stall_s or now - started > overall_s:
            raise AssertionError(
                f"waited {now - started:.0f} s for {what}; no progress for "
                f"{now - last_change:.0f} s (last progress: {seen!r})")
        time.sleep(poll_s)


class ClickHouseServer:
    """Debian's clickhouse-server (18.16) with its own config, data and ports in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("clickhouse-server") is not None and Path(
            "/etc/clickhouse-server/config.xml").exists()

    def start(self, timeout_s: float = 30) -> None:
        config = Path("/etc/clickhouse-server/config.xml").read_text()
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        replacements = {
            r"<log>.*?</log>": f"<log>{self.root}/server.log</log>",
            r"<errorlog>.*?</errorlog>": f"<errorlog>{self.root}/server.err.log</errorlog>",
            r"<http_port>.*?</http_port>": f"<http_port>{free_port()}</http_port>",
            r"<tcp_port>.*?</tcp_port>": f"<tcp_port>{self.port}</tcp_port>",
            r"<https_port>.*?</https_port>": "",
            r"<tcp_port_secure>.*?</tcp_port_secure>": "",
            r"<interserver_http_port>.*?</interserver_http_port>":
                f"<interserver_http_port>{free_port()}</interserver_http_port>",
            r"<listen_host>::1</listen_host>": "",
            r"<path>/var/lib/clickhouse/</path>": f"<path>{data}/</path>",
            r"<tmp_path>.*?</tmp_path>": f"<tmp_path>{data}/tmp/</tmp_path>",
            r"<user_files_path>.*?</user_files_path>":
                f"<user_files_path>{data}/user_files/</user_files_path>",
            r"<format_schema_path>.*?</format_schema_path>":
                f"<format_schema_path>{data}/format_schemas/</format_schema_path>",
        }
        for pattern, replacement in replacements.items():
            config = re.sub(pattern, replacement, config, count=1)
        (self.root / "config.xml").write_text(config)
        shutil.copy("/etc/clickhouse-server/users.xml", self.root / "users.xml")
        log = (self.root / "stdout.log").open("ab")
        self.proc = subprocess.Popen(
            ["clickhouse-server", f"--config-file={self.root / 'config.xml'}"],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.host, self.port, timeout_s, self.proc)

    def stop(self) -> None:
        stop_process(self.proc)


class LocalS3:
    """A local S3 on a free loopback port: moto's server (``moto[server]``), standing in
    for the production stack's MinIO, whose server binary is not installable here.

    moto lives in its own venv (``make s3-server``: ``.venv-s3``, pinned in
    requirements-s3.lock) because its botocore requires python-dateutil < 3 and the app
    pins 4.0; the tests speak to it only over HTTP, as the jobs speak to MinIO.
    """

    SERVER = Path(os.environ.get("FITSTREAM_MOTO_SERVER",
                                 Path(__file__).resolve().parent.parent / ".venv-s3" / "bin"
                                 / "moto_server"))
    # Any key works with moto; these go through the settings' secret fields.
    ACCESS_KEY_ID = "fitstream-test"
    SECRET_ACCESS_KEY = "moto-secret"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @classmethod
    def available(cls) -> bool:
        return cls.SERVER.exists()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 60) -> None:
        log = (self.root / "moto.log").open("ab")
        self.proc = subprocess.Popen([str(self.SERVER), "-H", self.host, "-p", str(self.port)],
                                     cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.host, self.port, timeout_s, self.proc)

    def create_bucket(self, name: str) -> str:
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.status
        return name

    def storage_options(self) -> dict[str, str]:
        """deltalake's options without the keys (the settings hold those as secrets)."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": "us-east-1",
                "AWS_ALLOW_HTTP": "true", "conditional_put": "etag"}

    def stop(self) -> None:
        stop_process(self.proc)
