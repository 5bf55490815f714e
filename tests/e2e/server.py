"""Start `prodlens serve` as a real process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str

    def stop(self, timeout: float = 20) -> tuple[int, str]:
        """SIGTERM, wait, and return (exit code, everything it wrote to stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


@contextmanager
def running_server(
    workdir: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 30
) -> Iterator[Server]:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PRODLENS_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    environment.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/var/e2e.db",
            "PRODLENS_DATA_DIR": str(workdir / "var"),
            "PRODLENS_LOG_FORMAT": "json",
            # The demo on an empty database costs seconds per start; tests that want it ask.
            "PRODLENS_DEMO_ON_EMPTY": "false",
        }
    )
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "prodlens", "serve", "--port", str(port), *args],
        cwd=workdir,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.stop()[1]}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{server.stop()[1]}")
        time.sleep(0.1)
    try:
        yield server
    finally:
        if process.poll() is None:
            server.stop()
