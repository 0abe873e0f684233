"""Real servers from Debian's packages for the monitor's tests and bench: PostgreSQL, Redis, Prometheus.

Each is started on loopback (or on addresses given) in a temporary directory, waited for, and stopped by its pid:
never by name. Debian starts none of them here.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")


def stop_pid(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: apt-get install postgresql (make test installs it)")
    return found[-1]


@dataclass
class Postgres:
    """A PostgreSQL server of its own (initdb in a temp dir, run as the `postgres` user: it refuses root)."""

    host: str = "127.0.0.1"
    port: int = 0
    dir: Path = field(default_factory=Path)
    proc: subprocess.Popen | None = None

    def start(self) -> Postgres:
        self.port = self.port or free_port(self.host)
        self.dir = Path(tempfile.mkdtemp(prefix="netready-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"], user="postgres", group="postgres", check=True,
                       capture_output=True, timeout=120)
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115 (closed with the directory)
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(data), "-h", self.host, "-p", str(self.port), "-k", str(self.dir),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "shared_buffers=128MB", "-c", "max_wal_size=2GB"],
            user="postgres", group="postgres", stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.host, self.port, 60, self.proc)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def dsn(self, db: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{db}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"t{secrets.token_hex(4)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def database_size(self, name: str) -> int:
        import psycopg

        with psycopg.connect(self.dsn("postgres")) as conn:
            return conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc, signal.SIGINT, 60)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Redis:
    """A redis-server of its own: no persistence, a password (it may listen beyond loopback for workers)."""

    binds: tuple[str, ...] = ("127.0.0.1",)
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    dir: Path = field(default_factory=Path)
    proc: subprocess.Popen | None = None

    def start(self) -> Redis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise RuntimeError("redis-server not found: apt-get install redis-server (make test installs it)")
        self.port = self.port or free_port(self.binds[0])
        self.dir = Path(tempfile.mkdtemp(prefix="netready-redis-"))
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", *self.binds, "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--requirepass", self.password, "--daemonize", "no",
             "--logfile", str(self.dir / "redis.log")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.binds[0], self.port, 30, self.proc)
        return self

    def url(self, host: str | None = None, db: int = 0) -> str:
        h = host or self.binds[0]
        return f"redis://:{self.password}@{f'[{h}]' if ':' in h else h}:{self.port}/{db}"

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class Prometheus:
    """A Prometheus server of its own that scrapes the given targets every `interval`."""

    targets: list[str] = field(default_factory=list)  # host:port
    metrics_path: str = "/metrics"
    interval: str = "1s"
    bearer_token: str | None = None
    port: int = 0
    dir: Path = field(default_factory=Path)
    proc: subprocess.Popen | None = None

    def start(self) -> Prometheus:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        if not os.path.exists(binary):
            raise RuntimeError("prometheus not found: apt-get install prometheus (make test installs it)")
        self.port = self.port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="netready-prom-"))
        auth = f"    authorization:\n      credentials: {self.bearer_token}\n" if self.bearer_token else ""
        targets = ", ".join(f"'{t}'" for t in self.targets)
        (self.dir / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {self.interval}\n  evaluation_interval: {self.interval}\n"
            f"scrape_configs:\n  - job_name: netready\n    metrics_path: {self.metrics_path}\n{auth}"
            f"    static_configs:\n      - targets: [{targets}]\n", encoding="utf-8")
        log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=log, stderr=subprocess.STDOUT)
        wait_port("127.0.0.1", self.port, 60, self.proc)
        self._wait_ready(60)
        return self

    def _wait_ready(self, limit: float) -> None:
        """The port opens before the storage is: until /-/ready says 200, every query answers 503."""
        import time

        deadline = time.monotonic() + limit
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                log = (self.dir / "prometheus.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"prometheus not ready within {limit:.0f} s:\n{log}")
            time.sleep(0.2)

    def api(self, path: str) -> dict:
        import json

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
