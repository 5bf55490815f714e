"""Slow clients against the real server: they cost themselves time, nobody else.

Raw sockets, because an HTTP client library sends a request at once: these tests
send one a byte at a time, or not at all, and watch what the server does.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.server import HTTP_TIMEOUT_S, Server, ingest_account, running_server

pytestmark = pytest.mark.e2e

# The promise: one slow client delays no other writer by more than a second.
WRITER_BUDGET_S = 1.0
TRICKLE_PIECES = 8
TRICKLE_INTERVAL_S = 0.6  # a body over ~5 s: far longer than any writer may wait
# Short limits for the timeout tests, so they run in seconds; generous waits around them.
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 2.0
CLOSE_DEADLINE_S = 30.0  # far past either limit: only a server that never closes hits it
TRICKLE_STEP_S = 0.25


def _address(server: Server) -> tuple[str, int]:
    url = urlsplit(server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    return url.hostname, url.port


def _connect(server: Server) -> socket.socket:
    sock = socket.create_connection(_address(server), timeout=HTTP_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _request_head(method: str, path: str, server: Server, content_length: int) -> bytes:
    host, port = _address(server)
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


def _read_until_closed(sock: socket.socket, deadline_s: float) -> tuple[bytes, bool]:
    """Everything the server sends, and whether it closed the connection in time."""
    received = b""
    deadline = time.monotonic() + deadline_s
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def _status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@dataclass
class SlowLogin:
    """`POST /auth/login` whose body arrives a few bytes at a time."""

    server: Server
    body: bytes
    done_sending: threading.Event = field(default_factory=threading.Event)
    response: bytes = b""

    def run(self) -> None:
        try:
            with _connect(self.server) as sock:
                sock.sendall(
                    _request_head("POST", "/api/v1/auth/login", self.server, len(self.body))
                )
                size = -(-len(self.body) // TRICKLE_PIECES)
                for start in range(0, len(self.body), size):
                    sock.sendall(self.body[start : start + size])
                    if start + size < len(self.body):
                        time.sleep(TRICKLE_INTERVAL_S)  # the client's pace, not a wait
                self.done_sending.set()
                self.response, _ = _read_until_closed(sock, HTTP_TIMEOUT_S)
        finally:
            self.done_sending.set()


def _events(prefix: str) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"{prefix}-{n}",
            "started_at": datetime.now(UTC).isoformat(),
            "developer_id": "dev-1",
            "response_model": "gpt-4o",
            "input_tokens": 10,
            "output_tokens": 5,
        }
        for n in range(3)
    ]


def test_a_slow_login_body_holds_back_no_other_writer(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"PRODLENS_RATE_LIMITS__ENABLED": "false"}) as server:
        account = ingest_account(server.base_url)
        bearer = {"Authorization": f"Bearer {account.token}"}
        credentials = {"username": account.username, "password": account.password}
        timings: list[tuple[str, float, int]] = []

        with httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT_S) as client:

            def writers(round_number: int) -> None:
                requests: tuple[tuple[str, Callable[[], httpx.Response]], ...] = (
                    ("login", lambda: client.post("/api/v1/auth/login", json=credentials)),
                    (
                        "patch me",
                        lambda: client.patch(
                            "/api/v1/auth/me",
                            json={"display_name": f"Lead {round_number}"},
                            headers=bearer,
                        ),
                    ),
                    (
                        "ingest",
                        lambda: client.post(
                            "/api/v1/ingest/events",
                            json=_events(f"r{round_number}"),
                            headers={"X-API-Key": account.key},
                        ),
                    ),
                )
                for name, send in requests:
                    started = time.monotonic()
                    status = send().status_code
                    timings.append((name, time.monotonic() - started, status))

            writers(0)  # warm: first-use costs are not what this test measures
            timings.clear()
            slow = SlowLogin(server, json.dumps(credentials).encode())
            thread = threading.Thread(target=slow.run)
            thread.start()
            rounds = 0
            while not slow.done_sending.is_set():
                rounds += 1
                writers(rounds)
            thread.join(HTTP_TIMEOUT_S)

    assert all(status < 300 for _, _, status in timings), timings
    slowest = max(timings, key=lambda timing: timing[1])
    assert slowest[1] < WRITER_BUDGET_S, f"{slowest[0]} took {slowest[1]:.2f} s: {timings}"
    assert rounds >= 2, "the writers ran beside the slow body"
    status, body = _status_and_body(slow.response)
    assert status == 200, slow.response  # the slow client itself is served in the end
    assert "access_token" in json.loads(body)


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "PRODLENS_HTTP__HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
        "PRODLENS_HTTP__BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
    }
    with running_server(tmp_path_factory.mktemp("impatient"), env=env) as server:
        yield server


def _trickle(sock: socket.socket, byte: bytes, deadline_s: float) -> tuple[bytes, bool]:
    """Send `byte` every so often until the server closes the connection; return what
    it sent meanwhile and whether it closed within `deadline_s`."""
    received = b""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], TRICKLE_STEP_S)
        try:
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    return received, True
                received += chunk
            else:
                sock.sendall(byte)
        except (BrokenPipeError, ConnectionResetError):
            return received, True
    return received, False


def test_a_connection_that_sends_nothing_is_closed(impatient_server: Server) -> None:
    with _connect(impatient_server) as sock:
        started = time.monotonic()
        received, closed = _read_until_closed(sock, CLOSE_DEADLINE_S)
    assert closed, f"still open after {CLOSE_DEADLINE_S:g} s"
    assert received == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT_S / 2


def test_headers_sent_a_byte_at_a_time_are_cut_off(impatient_server: Server) -> None:
    with _connect(impatient_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        received, closed = _trickle(sock, b"a", CLOSE_DEADLINE_S)
    # Bytes kept arriving: an idle-connection timer alone never fires.
    assert closed, f"still open after {CLOSE_DEADLINE_S:g} s"
    assert received == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT_S / 2


def test_a_body_nobody_reads_cannot_keep_the_connection(impatient_server: Server) -> None:
    with _connect(impatient_server) as sock:
        sock.sendall(_request_head("GET", "/health", impatient_server, 100_000) + b"{")
        received, closed = _trickle(sock, b" ", CLOSE_DEADLINE_S)
    assert received.startswith(b"HTTP/1.1 200 "), received  # answered at once
    assert closed, f"still open after {CLOSE_DEADLINE_S:g} s"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login",  # the route reads its own body
        "/api/v1/auth/register",  # the framework reads it for the route's model
    ],
)
def test_a_body_that_does_not_arrive_in_time_is_answered_408(
    impatient_server: Server, path: str
) -> None:
    with _connect(impatient_server) as sock:
        sock.sendall(_request_head("POST", path, impatient_server, 100_000) + b"{")
        started = time.monotonic()
        received, closed = _trickle(sock, b" ", CLOSE_DEADLINE_S)
    assert received, f"no answer in {CLOSE_DEADLINE_S:g} s"
    status, body = _status_and_body(received)
    assert status == 408, received
    problem = json.loads(body)
    assert problem["code"] == "http.request_timeout"
    assert problem["correlation_id"]
    assert b"\r\nconnection: close\r\n" in received.lower()
    assert closed
    assert time.monotonic() - started >= BODY_TIMEOUT_S / 2


def test_prompt_clients_are_served_as_before(impatient_server: Server) -> None:
    with httpx.Client(base_url=impatient_server.base_url, timeout=HTTP_TIMEOUT_S) as client:
        for _ in range(3):  # one kept-alive connection
            assert client.get("/health").status_code == 200
        login = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"})
    assert login.status_code == 401, login.text


def test_a_request_the_parser_cannot_read_gets_a_problem(impatient_server: Server) -> None:
    """An oversized request line never reaches the app; the answer is still ours."""
    with _connect(impatient_server) as sock:
        sock.sendall(b"GET /api/v1/projects?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        received, closed = _read_until_closed(sock, CLOSE_DEADLINE_S)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["code"] == "request.invalid"
    assert closed
