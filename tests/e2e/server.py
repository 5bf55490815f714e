"""Start `prodlens serve` as a real process on a free port, for end-to-end tests.

Every wait here ends on a signal from the server (it answers, it exits), under
deadlines generous enough that only a broken server reaches them: on a loaded
machine starting takes long, and that must not fail a test. A server that dies
or never gets ready fails the test with its own log attached.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_DEADLINE_S = 120.0  # until `/health` answers; a process that exits ends it at once
STOP_DEADLINE_S = 120.0  # for the graceful exit after SIGTERM
HTTP_TIMEOUT_S = 60.0  # for one request of a test
LOG_LINES_SHOWN = 60
PASSWORD = "violet-lantern-ocean-42"  # a test account's: strong enough for the policy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFailed(RuntimeError):
    pass


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path  # the server's stderr: to a file, so a chatty server never blocks on a pipe

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def failure(self, what: str) -> ServerFailed:
        tail = "\n".join(self.output().splitlines()[-LOG_LINES_SHOWN:])
        return ServerFailed(f"{what} (pid {self.process.pid}); the server's log:\n{tail}")

    def wait_until(
        self, condition: Callable[[], bool], what: str, deadline_s: float = READY_DEADLINE_S
    ) -> None:
        """Poll `condition` until it holds; fail at once if the server exits."""
        deadline = time.monotonic() + deadline_s
        while not condition():
            if self.process.poll() is not None:
                raise self.failure(f"the server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise self.failure(f"not {what} after {deadline_s:g} s")
            time.sleep(0.1)

    def answers_health(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = STOP_DEADLINE_S) -> tuple[int, str]:
        """SIGTERM, wait, and return (exit code, everything it wrote to stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, self.output()


@contextmanager
def running_server(
    workdir: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    ready_deadline_s: float = READY_DEADLINE_S,
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
    log = workdir / f"server-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "prodlens", "serve", "--port", str(port), *args],
            cwd=workdir,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        server.wait_until(server.answers_health, "answering /health", ready_deadline_s)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


@dataclass(frozen=True)
class IngestAccount:
    """An account, its project and an `ingest` key of it, made over plain HTTP."""

    username: str
    password: str
    token: str
    project_id: str
    key: str


def ingest_account(
    base_url: str,
    *,
    username: str = "lead",
    password: str = PASSWORD,
    project: str = "Pilot",
    key_name: str = "ingest",
) -> IngestAccount:
    """Register, sign in, create a project and an `ingest` key, as a new user would."""
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_S) as client:
        registered = client.post(
            "/api/v1/auth/register",
            json={
                "email": f"{username}@example.com",
                "username": username,
                "password": password,
                "display_name": username.title(),
            },
        )
        assert registered.status_code == 201, registered.text
        login = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        token = str(login.json()["access_token"])
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post("/api/v1/projects", json={"name": project}, headers=headers)
        assert created.status_code == 201, created.text
        project_id = str(created.json()["id"])
        key = client.post(
            f"/api/v1/projects/{project_id}/api-keys",
            json={"name": key_name, "scopes": ["ingest"]},
            headers=headers,
        )
        assert key.status_code == 201, key.text
        return IngestAccount(username, password, token, project_id, str(key.json()["key"]))
