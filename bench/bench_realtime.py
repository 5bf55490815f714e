"""Live feed fan-out: 1,000 WebSocket clients on one channel, one worker, SQLite, against
a bare Starlette fan-out.

What it measures
    Three servers, each pinned to core 0, each with CLIENTS sockets subscribed to one
    channel, every client in this process (one event loop, uvloop) on core 1:

    * memory    `prodlens serve --workers 1` on a throwaway SQLite database, no REDIS_URL
                (the in-process broker).
    * redis     the same with REDIS_URL=redis://127.0.0.1:6379/0 and a key prefix of its
                own (the Redis pub/sub broker, Redis state store); the prefix's keys are
                deleted at the end.
    * bare      the baseline: a Starlette app on uvicorn with the same options (uvloop,
                httptools, websockets-sansio, permessage-deflate off as ProdLens serves
                it by default) that fans every
                message it is handed out through a bounded queue and a writer task per
                socket, as ProdLens's hub does, and nothing else (`bare_feed_app` below).

    ProdLens: an account (register, login), a project, an ingest API key, then CLIENTS
    sockets opened with `Authorization: Bearer <access token>`, each `welcome`d, sending
    `subscribe` and waiting for `subscribed`. A round ingests BATCHES batches of
    EVENTS_PER_BATCH events (one session each) over HTTP with the API key, one batch
    every INTERVAL_S seconds; each becomes an `events` and a `session` message, and the
    KPIs a debounced `kpis` message (at most one a second). The bare server is handed, per
    batch, an `events` and a `session` message, and a `kpis` message every
    KPIS_EVERY batches, with the data a ProdLens client last received (same sizes).

    * latency   at each client, receive time (time.time() as the message is taken off
                the socket) minus the message's `sent` (the publisher's time.time());
                p50/p95/p99/max over every `events` message delivered in the measured
                rounds, and the p99 of each round against the bare server's p99 in the
                same round (median ratio, min-max).
    * CPU       the server's utime+stime (/proc/PID/stat) over a round, from before the
                first batch until every client has every `events` message and the last
                `kpis` has arrived, divided by the channel messages (events, session,
                kpis) the clients received in it. For ProdLens it includes the ingest
                requests themselves (validation, the SQLite write, the session and KPI
                queries): the whole cost of a live update. redis-server's CPU is shown
                next to it (it is not pinned).
    * memory    the server's VmRSS (/proc/PID/status) with no socket open (after the
                account and project were set up), with the first 100 and with all CLIENTS
                sockets subscribed and idle (2 s after the last `subscribed`); the
                difference divided by CLIENTS, and the 100 → CLIENTS slope (without
                one-time costs of the first sockets); then PLAIN_EXTRA more sockets
                without permessage-deflate, measured the same way and closed again
                (what compression costs per socket).
    * delivery  every socket must receive every `events` message, and the channel's
                `seq` must run without gaps and in order on every socket.

    Rounds: one warm-up, then ROUNDS, each running the three servers one after another
    (order rotated from round to round). Settings changed from the defaults, for the
    benchmark only: realtime max_connections_per_user and max_connections_per_ip raised
    to 5000 (defaults 20 and 200: one user opens all CLIENTS sockets from 127.0.0.1),
    rate limits off (the ingest key's 600/minute), WARNING logs. Clients offer
    permessage-deflate (as browsers do; the servers decline it unless
    PRODLENS_REALTIME__COMPRESSION=true), send no pings of their own, and answer the
    server's `ping` messages with `pong` (a silent client is closed after 60 s).

    The clients all live in one process on one core, unlike real ones: per message they
    take the frames of CLIENTS sockets one after another, and a client's latency
    includes the time this process spends on the sockets served before it. The bare
    server's figures are the floor of this client and this uvicorn stack; "client busy"
    says how close core 1 came to saturation. Once connected, the clients' objects are
    frozen out of this process's cyclic GC (gc.freeze), whose full collections would
    otherwise pause every client at once. The server-side histogram
    `prodlens_ws_publish_to_send_seconds` (publication to the hand-over to a socket,
    from /metrics) is shown too, to tell server time from client time, and for the
    slowest `events` messages when their first and their last client had them (a late
    first client means the server, or this process, stalled before the fan-out).

Run
    make bench                          # all benchmarks, small size
    .venv/bin/python bench/bench_realtime.py
    BENCH_FULL=1 .venv/bin/python bench/bench_realtime.py  # 10 rounds of 30 batches
    BENCH_CLIENTS=200 ...               # another number of clients per server
    BENCH_DEFLATE=0 ...                 # clients that do not offer permessage-deflate

    Needs taskset, two CPUs, a Redis server at 127.0.0.1:6379 (the redis target is
    skipped without one) and about 3,500 file descriptors (the soft limit is raised to
    the hard one). Only 127.0.0.1 traffic. The default size takes about 2.5 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import (
    BARE_UVICORN_OPTIONS,
    BENCH_DIR,
    CLIENT_CORE,
    FULL,
    HOST,
    NOISY,
    SERVER_CORE,
    BenchError,
    ServerSpec,
    cores_busy_seconds,
    cpu_seconds,
    free_port,
    machine_lines,
    percentile,
    prodlens_env,
    prodlens_serve_argv,
    prog,
    ratio_text,
    running,
    venv_script,
)

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "1000"))
# BENCH_DEFLATE=0: clients that do not offer permessage-deflate (browsers always do).
DEFLATE = os.environ.get("BENCH_DEFLATE", "1") not in ("", "0")
ROUNDS = 10 if FULL else 5
BATCHES = 30 if FULL else 8  # per round and server
INTERVAL_S = 0.5
EVENTS_PER_BATCH = 10
KPI_INTERVAL_S = 1.0  # ProdLens's default realtime.kpi_interval_seconds
KPIS_EVERY = round(KPI_INTERVAL_S / INTERVAL_S)  # the bare server's `kpis`, in batches
CONNECT_CONCURRENCY = 50
PLAIN_EXTRA = min(200, CLIENTS)
IDLE_SETTLE_S = 2.0
DRAIN_TIMEOUT_S = 60.0
TAIL_S = KPI_INTERVAL_S + 0.5  # after the last `events`: the debounced `kpis` arrives
P99_TARGET_MS = 250.0
CONNECTION_LIMIT = 5000
REDIS_URL = "redis://127.0.0.1:6379/0"
USERNAME = "rtbench"
PASSWORD = "violet-lantern-ocean-42"
LATENCY_METRIC = "prodlens_ws_publish_to_send_seconds_bucket"

# Channel messages as protocol.channel_message encodes them (compact JSON, this key order):
# type, seq and sent without parsing the data.
_CHANNEL_PREFIX = re.compile(
    r'\{"type":"(\w+)","v":1,"channel":"[^"]*","seq":(\d+),"sent":([^,]+),'
)
_PONG = '{"type":"pong"}'
# The data of the last channel message of each type one ProdLens client received: what the
# bare server is given to send.
TEMPLATES: dict[str, Any] = {}


# --- the baseline server -------------------------------------------------------------------


def bare_feed_app() -> Any:
    """The baseline: accept, `welcome`, wait for `subscribe`, answer `subscribed`, then
    a bounded queue and a writer task per socket; `POST /publish` with a JSON list of
    {"kind", "data"} numbers each message, encodes it once and queues it for every
    follower. Served as `uvicorn bench_realtime:bare_feed_app --factory`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    channel = "project:bare"
    followers: set[asyncio.Queue[str]] = set()
    numbered = [0]

    def encode(message: dict[str, Any]) -> str:
        return json.dumps(message, separators=(",", ":"), default=str)

    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(encode({"type": "welcome", "v": 1}))
        await websocket.receive_text()  # the `subscribe`
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=256)

        async def write() -> None:
            while True:
                await websocket.send_text(await queue.get())

        await websocket.send_text(encode({"type": "subscribed", "v": 1, "channel": channel}))
        writer = asyncio.create_task(write())
        followers.add(queue)
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            followers.discard(queue)
            writer.cancel()

    async def publish(request: Request) -> JSONResponse:
        for item in await request.json():
            # Let the writers send what is queued before the next message, as ProdLens's
            # publisher does while it queries the session and the KPIs.
            await asyncio.sleep(0)
            numbered[0] += 1
            text = encode(
                {
                    "type": item["kind"],
                    "v": 1,
                    "channel": channel,
                    "seq": numbered[0],
                    "sent": time.time(),
                    "data": item["data"],
                }
            )
            for queue in list(followers):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(text)
        return JSONResponse({"followers": len(followers)})

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/publish", publish, methods=["POST"]),
            WebSocketRoute("/api/v1/ws", feed),
        ]
    )


# --- servers -------------------------------------------------------------------------------


@dataclass
class Phase:
    """What the clients of one server received during one round."""

    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"events": [], "session": [], "kpis": []}
    )
    delivered: int = 0
    # seq -> [type, sent, first client's latency, last client's latency, clients]
    messages: dict[int, list[Any]] = field(default_factory=dict)


@dataclass
class Client:
    target: Target
    ws: Any = None
    last_seq: int | None = None
    gaps: int = 0
    out_of_order: int = 0
    events: int = 0
    other: Counter[str] = field(default_factory=Counter)
    close_code: int | None = None  # the server's close, before the benchmark closed it
    capture: bool = False  # keeps the data of what it receives, for the bare server


@dataclass
class Target:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    prodlens: bool
    port: int = 0
    server_pid: int | None = None
    project_id: str = "bare"
    token: str = ""
    ingest_key: str = ""
    clients: list[Client] = field(default_factory=list)
    phase: Phase | None = None
    events_received: int = 0  # `events` messages, summed over the clients
    events_expected: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    batches_sent: int = 0
    rss_kib: dict[int, int] = field(default_factory=dict)  # sockets open -> VmRSS
    plain_kib: float = 0.0  # VmRSS per extra socket without permessage-deflate
    closing: bool = False  # the benchmark is closing its sockets
    http_ms: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.server_pid is not None
        return self.server_pid

    @property
    def log(self) -> Path:
        return self.cwd / "server.log"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/api/v1/ws"


def prodlens_target(name: str, workdir: Path, redis_prefix: str | None) -> Target:
    cwd = workdir / name
    cwd.mkdir()
    env = prodlens_env(cwd, "WARNING")
    env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
    env["PRODLENS_REALTIME__MAX_CONNECTIONS_PER_USER"] = str(CONNECTION_LIMIT)
    env["PRODLENS_REALTIME__MAX_CONNECTIONS_PER_IP"] = str(CONNECTION_LIMIT)
    if redis_prefix is not None:
        env["REDIS_URL"] = REDIS_URL
        env["PRODLENS_REDIS__KEY_PREFIX"] = redis_prefix
    return Target(name, prodlens_serve_argv(0), env, cwd, prodlens=True)


def bare_target(workdir: Path) -> Target:
    cwd = workdir / "bare"
    cwd.mkdir()
    argv = [
        venv_script("uvicorn"),
        "bench_realtime:bare_feed_app",
        "--factory",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        HOST,
        "--port",
        "0",
        *BARE_UVICORN_OPTIONS,
        # As `prodlens serve` by default (PRODLENS_REALTIME__COMPRESSION=false).
        "--ws-per-message-deflate",
        "false",
    ]
    return Target("bare", argv, dict(os.environ), cwd, prodlens=False)


def start(target: Target, stack: contextlib.ExitStack) -> None:
    """Start the target's server pinned to the server core, stopped when `stack` closes."""
    target.port = free_port()
    target.argv[target.argv.index("--port") + 1] = str(target.port)
    spec = ServerSpec(target.name, target.argv, target.env, target.cwd, target.log)
    target.server_pid = stack.enter_context(running(spec, target.port))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def redis_pid() -> int | None:
    """The local redis-server's pid, for its CPU (None when it cannot be read)."""
    with contextlib.suppress(OSError, ValueError):
        found = subprocess.run(
            ["pgrep", "-o", "-x", "redis-server"], capture_output=True, text=True, check=False
        ).stdout.split()
        if found:
            pid = int(found[0])
            cpu_seconds(pid)
            return pid
    return None


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def redis_sequences(prefix: str) -> int:
    """Channel counters under the prefix: the Redis broker numbered messages there."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    return len(list(client.scan_iter(match=f"{prefix}rt:seq:*", count=1000)))


def server_source(target: Target) -> Path:
    """The package directory `prodlens` is imported from with a server's environment."""
    result = subprocess.run(
        [sys.executable, "-c", "import prodlens, os; print(os.path.dirname(prodlens.__file__))"],
        cwd=target.cwd,
        env=target.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"cannot import prodlens: {result.stderr[-500:]}")
    return Path(result.stdout.strip())


def tree_fingerprint(root: Path) -> str:
    """A digest of the Python files under `root` as they are on disk now."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def delete_redis_keys(prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


async def provision(http: httpx.AsyncClient, target: Target) -> None:
    """Account, sign-in, project, ingest key (ProdLens servers)."""
    steps: list[tuple[str, str, dict[str, Any], int]] = [
        (
            "register",
            "/api/v1/auth/register",
            {
                "email": f"{USERNAME}@example.com",
                "username": USERNAME,
                "password": PASSWORD,
                "display_name": "Realtime bench",
            },
            201,
        ),
        ("login", "/api/v1/auth/login", {"username": USERNAME, "password": PASSWORD}, 200),
    ]
    base = f"http://{HOST}:{target.port}"
    for label, path, body, expected in steps:
        response = await http.post(base + path, json=body)
        if response.status_code != expected:
            raise BenchError(f"{label} answered {response.status_code}: {response.text[:300]}")
    target.token = str(response.json()["access_token"])
    auth = {"Authorization": f"Bearer {target.token}"}
    response = await http.post(f"{base}/api/v1/projects", json={"name": "Live"}, headers=auth)
    if response.status_code != 201:
        raise BenchError(f"project answered {response.status_code}: {response.text[:300]}")
    target.project_id = str(response.json()["id"])
    response = await http.post(
        f"{base}/api/v1/projects/{target.project_id}/api-keys",
        json={"name": "ingest", "scopes": ["ingest"]},
        headers=auth,
    )
    if response.status_code != 201:
        raise BenchError(f"api key answered {response.status_code}: {response.text[:300]}")
    target.ingest_key = str(response.json()["key"])


async def publish_histogram(http: httpx.AsyncClient, target: Target) -> dict[str, float]:
    """The cumulative buckets of prodlens_ws_publish_to_send_seconds (ProdLens only)."""
    if not target.prodlens:
        return {}
    response = await http.get(f"http://{HOST}:{target.port}/metrics")
    buckets: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith(LATENCY_METRIC + "{"):
            match = re.search(r'le="([^"]+)"\}\s+(\S+)', line)
            if match:
                buckets[match[1]] = float(match[2])
    return buckets


# --- clients -------------------------------------------------------------------------------


async def read(client: Client) -> None:
    """Take every message off the socket; time and check the channel messages."""
    from websockets.exceptions import ConnectionClosed

    target = client.target
    try:
        async for raw in client.ws:
            now = time.time()
            if not isinstance(raw, str):
                client.other["binary"] += 1
                continue
            match = _CHANNEL_PREFIX.match(raw)
            if match is None:
                kind = str(json.loads(raw).get("type"))
                if kind == "ping":
                    await client.ws.send(_PONG)
                else:
                    client.other[kind] += 1
                continue
            kind, seq, sent = match[1], int(match[2]), float(match[3])
            if client.last_seq is not None:
                if seq <= client.last_seq:
                    client.out_of_order += 1
                elif seq != client.last_seq + 1:
                    client.gaps += seq - client.last_seq - 1
            client.last_seq = max(seq, client.last_seq or 0)
            phase = target.phase
            if phase is not None:
                latency = now - sent
                phase.latencies.setdefault(kind, []).append(latency)
                phase.delivered += 1
                entry = phase.messages.get(seq)
                if entry is None:
                    phase.messages[seq] = [kind, sent, latency, latency, 1]
                else:
                    entry[2] = min(entry[2], latency)
                    entry[3] = max(entry[3], latency)
                    entry[4] += 1
            if kind == "events":
                client.events += 1
                target.events_received += 1
                if target.events_received >= target.events_expected:
                    target.drained.set()
            if client.capture:
                TEMPLATES[kind] = json.loads(raw)["data"]
    except ConnectionClosed:
        pass
    if not client.target.closing:
        client.close_code = client.ws.close_code


async def open_client(target: Target, capture: bool, *, deflate: bool = DEFLATE) -> Client:
    from websockets.asyncio.client import connect

    client = Client(target, capture=capture)
    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    client.ws = await connect(
        target.ws_url,
        additional_headers=headers,
        open_timeout=60,
        ping_interval=None,
        compression="deflate" if deflate else None,
    )
    welcome = json.loads(await client.ws.recv())
    if welcome.get("type") != "welcome":
        raise BenchError(f"{target.name}: expected `welcome`, got {welcome}")
    await client.ws.send(json.dumps({"type": "subscribe", "project": target.project_id}))
    while True:
        answer = json.loads(await client.ws.recv())
        if answer.get("type") == "subscribed":
            break
        if answer.get("type") != "ping":
            raise BenchError(f"{target.name}: expected `subscribed`, got {answer}")
    return client


async def connect_clients(target: Target, count: int) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> Client:
        async with gate:
            capture = target.name == "memory" and index == 0 and not target.clients
            return await open_client(target, capture=capture)

    opened = await asyncio.gather(*(one(i) for i in range(count)))
    for client in opened:
        asyncio.get_running_loop().create_task(read(client), name="bench-reader")
    target.clients.extend(opened)


async def plain_sockets_kib(target: Target) -> float:
    """VmRSS per socket of PLAIN_EXTRA more sockets without permessage-deflate, opened on
    top of the others and closed again (a diagnostic: what compression costs)."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Client:
        async with gate:
            return await open_client(target, capture=False, deflate=False)

    before = rss_kib(target.pid)
    extra = await asyncio.gather(*(one() for _ in range(PLAIN_EXTRA)))
    await asyncio.sleep(IDLE_SETTLE_S)
    after = rss_kib(target.pid)
    await asyncio.gather(*(client.ws.close() for client in extra))
    return (after - before) / PLAIN_EXTRA


# --- rounds --------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    round: int
    latencies: dict[str, list[float]]
    messages: dict[int, list[Any]]
    delivered: int
    missing: int  # `events` messages not received within DRAIN_TIMEOUT_S
    wall: float
    server_cpu: float
    redis_cpu: float | None
    client_cpu: float
    core0_other: float
    core1_other: float
    histogram: dict[str, float]

    @property
    def cpu_us_per_message(self) -> float:
        return self.server_cpu / max(self.delivered, 1) * 1e6

    def p(self, kind: str, pct: float) -> float:
        values = self.latencies.get(kind) or [float("nan")]
        return percentile(values, pct) * 1000


def batch_events(number: int, at: datetime) -> list[dict[str, Any]]:
    """One batch: EVENTS_PER_BATCH events of one session, as tests/analytics/helpers.py."""
    events = []
    for index in range(EVENTS_PER_BATCH):
        started = at + timedelta(seconds=index)
        events.append(
            {
                "event_id": f"rt-{number}-{index}",
                "session_id": f"rt-s-{number}",
                "developer_id": f"dev-{index % 3}",
                "started_at": started.isoformat(),
                "ended_at": (started + timedelta(milliseconds=800)).isoformat(),
                "provider": "openai",
                "request_model": "gpt-4o",
                "response_model": "gpt-4o",
                "input_tokens": 1000,
                "output_tokens": 200,
            }
        )
    return events


async def send_batch(http: httpx.AsyncClient, target: Target, number: int) -> None:
    base = f"http://{HOST}:{target.port}"
    started = time.monotonic()
    if target.prodlens:
        at = datetime.now(UTC) - timedelta(hours=1)
        response = await http.post(
            f"{base}/api/v1/projects/{target.project_id}/ingest/events",
            json=batch_events(number, at),
            headers={"X-API-Key": target.ingest_key},
        )
        if response.status_code != 200:
            raise BenchError(f"{target.name}: ingest answered {response.status_code}")
    else:
        kinds = ["events", "session"] + (["kpis"] if number % KPIS_EVERY == 0 else [])
        items = [{"kind": kind, "data": TEMPLATES[kind]} for kind in kinds]
        response = await http.post(f"{base}/publish", json=items)
        if response.status_code != 200:
            raise BenchError(f"bare: /publish answered {response.status_code}")
    target.http_ms.append((time.monotonic() - started) * 1000)


async def run_round(
    http: httpx.AsyncClient, target: Target, targets: list[Target], number: int, redis: int | None
) -> Result:
    histogram_before = await publish_histogram(http, target)
    target.phase = Phase()
    expected = (target.batches_sent + BATCHES) * len(target.clients)
    target.events_expected = expected
    target.drained.clear()
    servers_before = [cpu_seconds(t.pid) for t in targets]
    redis_before = cpu_seconds(redis) if redis is not None else None
    cores_before = cores_busy_seconds()
    client_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    for batch in range(BATCHES):
        await asyncio.sleep(max(started + batch * INTERVAL_S - time.monotonic(), 0.0))
        await send_batch(http, target, target.batches_sent)
        target.batches_sent += 1
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(target.drained.wait(), DRAIN_TIMEOUT_S)
    await asyncio.sleep(TAIL_S)
    wall = time.monotonic() - started
    client_after = resource.getrusage(resource.RUSAGE_SELF)
    core0, core1 = (a - b for a, b in zip(cores_busy_seconds(), cores_before, strict=True))
    servers = [
        cpu_seconds(t.pid) - before for t, before in zip(targets, servers_before, strict=True)
    ]
    redis_cpu = (
        cpu_seconds(redis) - redis_before
        if redis is not None and redis_before is not None
        else None
    )
    phase, target.phase = target.phase, None
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
        client_before.ru_utime + client_before.ru_stime
    )
    histogram_after = await publish_histogram(http, target)
    return Result(
        target=target.name,
        round=number,
        latencies=phase.latencies,
        messages=phase.messages,
        delivered=phase.delivered,
        missing=max(expected - target.events_received, 0),
        wall=wall,
        server_cpu=servers[targets.index(target)],
        redis_cpu=redis_cpu,
        client_cpu=client_cpu,
        core0_other=max(core0 - sum(servers), 0.0) / wall,
        core1_other=max(core1 - client_cpu, 0.0) / wall,
        histogram={
            le: count - histogram_before.get(le, 0.0) for le, count in histogram_after.items()
        },
    )


# --- report --------------------------------------------------------------------------------


def kib(value: float) -> str:
    return f"{value / 1024:.1f} MiB" if value >= 10240 else f"{value:.0f} KiB"


def histogram_line(results: list[Result]) -> str:
    total: Counter[str] = Counter()
    for result in results:
        total.update(result.histogram)
    count = total.get("+Inf", 0.0)
    if not count:
        return "no samples"
    bounds = sorted((float(le), n) for le, n in total.items() if le != "+Inf")
    within = {le: n / count for le, n in bounds}
    p99_bound = next((le for le, n in bounds if n / count >= 0.99), float("inf"))
    p50_bound = next((le for le, n in bounds if n / count >= 0.5), float("inf"))
    return (
        f"{count:.0f} hand-overs: p50 <= {p50_bound * 1000:g} ms, p99 <= {p99_bound * 1000:g} ms; "
        f"within 100 ms {within.get(0.1, 0):.1%}, within 250 ms {within.get(0.25, 0):.1%}"
    )


def round_line(label: str, result: Result) -> str:
    redis = (
        f"  redis-server {result.redis_cpu / max(result.delivered, 1) * 1e6:4.1f} µs/msg"
        if result.redis_cpu is not None and result.target == "redis"
        else ""
    )
    return (
        f"  {label:>11}  {result.target:6}  events p50 {result.p('events', 50):6.1f} "
        f"p99 {result.p('events', 99):6.1f} ms  {result.delivered:6d} msgs  "
        f"{result.cpu_us_per_message:5.1f} µs/msg  "
        f"srv busy {result.server_cpu / result.wall:4.0%}  "
        f"client busy {result.client_cpu / result.wall:4.0%}  "
        f"other {result.core0_other:3.0%}/{result.core1_other:3.0%}{redis}"
        + (f"  MISSING {result.missing} `events`" if result.missing else "")
    )


def pooled(rounds: list[Result], kind: str) -> list[float]:
    return [value for result in rounds for value in result.latencies.get(kind, [])]


def ms(values: list[float], pct: float) -> float:
    return percentile(values, pct) * 1000 if values else float("nan")


def memory_report(targets: list[Target]) -> None:
    first = min(100, CLIENTS)
    print(
        f"memory per idle connection (VmRSS from /proc/PID/status; sockets subscribed, "
        f"idle {IDLE_SETTLE_S:g} s)"
    )
    for target in targets:
        rss = target.rss_kib
        per = (rss[CLIENTS] - rss[0]) / CLIENTS
        slope = (rss[CLIENTS] - rss[first]) / max(CLIENTS - first, 1)
        print(
            f"  {target.name:6}  0: {kib(rss[0]):>9}  {first}: {kib(rss[first]):>9}  "
            f"{CLIENTS}: {kib(rss[CLIENTS]):>9}  per connection {per:5.1f} KiB "
            f"({first} → {CLIENTS}: {slope:5.1f} KiB); {PLAIN_EXTRA} more without "
            f"permessage-deflate: {target.plain_kib:5.1f} KiB each"
        )


def latency_report(targets: list[Target], by_target: dict[str, list[Result]]) -> None:
    base = {result.round: result for result in by_target["bare"]}
    header = (
        f"{'server':8} {'events p50':>10} {'p95':>7} {'p99':>7} {'max':>7}  "
        f"{'p99 ÷ bare':18} {'session p99':>11} {'kpis p99':>8} "
        f"{'msgs':>7} {'µs/msg':>7}  {'µs/msg ÷ bare':18}"
    )
    print(header)
    print("-" * len(header))
    for target in targets:
        rounds = by_target[target.name]
        events = pooled(rounds, "events")
        p99_ratios = [r.p("events", 99) / base[r.round].p("events", 99) for r in rounds]
        cpu_ratios = [r.cpu_us_per_message / base[r.round].cpu_us_per_message for r in rounds]
        delivered = sum(r.delivered for r in rounds)
        cpu = sum(r.server_cpu for r in rounds) / max(delivered, 1) * 1e6
        bare = target.name == "bare"
        print(
            f"{target.name:8} {ms(events, 50):10.1f} {ms(events, 95):7.1f} "
            f"{ms(events, 99):7.1f} {max(events, default=0.0) * 1000:7.1f}  "
            f"{ratio_text([] if bare else p99_ratios):18} "
            f"{ms(pooled(rounds, 'session'), 99):11.1f} {ms(pooled(rounds, 'kpis'), 99):8.1f} "
            f"{delivered:7d} {cpu:7.1f}  {ratio_text([] if bare else cpu_ratios):18}"
        )
    print(
        f"(ms, pooled over the {ROUNDS} measured rounds of {BATCHES} batches, one every "
        f"{INTERVAL_S:g} s, {CLIENTS} clients per server; ratios taken within each round, "
        "median (min-max); msgs = channel messages the clients received; µs/msg = server "
        "CPU / msgs)"
    )
    for target in targets:
        if not target.prodlens:
            continue
        rounds = by_target[target.name]
        delivered = sum(r.delivered for r in rounds)
        cpu_ms = sum(r.server_cpu for r in rounds) / (ROUNDS * BATCHES) * 1000
        line = f"  {target.name}: server CPU {cpu_ms:.1f} ms per batch (ingest, queries, fan-out)"
        redis_cpu = [r.redis_cpu for r in rounds if r.redis_cpu is not None]
        if target.name == "redis" and redis_cpu:
            line += f"; redis-server {sum(redis_cpu) / max(delivered, 1) * 1e6:.2f} µs/msg"
        line += f"; ingest request median {statistics.median(target.http_ms):.1f} ms"
        print(line)
        print(f"  {target.name}: server-side publish-to-send: {histogram_line(rounds)}")
    for target in targets:
        spread_report(target.name, by_target[target.name])


def spread_report(name: str, rounds: list[Result]) -> None:
    """Per message: when its first and its last client had it; the slowest `events`
    messages and the message just before each (a diagnostic: where the tail comes from)."""
    cells = []
    for kind in ("events", "session", "kpis"):
        entries = [e for r in rounds for e in r.messages.values() if e[0] == kind]
        if entries:
            first = statistics.median(e[2] for e in entries) * 1000
            last = statistics.median(e[3] for e in entries) * 1000
            cells.append(f"{kind} {first:.1f} / {last:.1f}")
    print(f"  {name}: first / last client, median over messages (ms): {'; '.join(cells)}")
    slowest = sorted(
        ((e[3], r, seq) for r in rounds for seq, e in r.messages.items() if e[0] == "events"),
        key=lambda item: item[0],
        reverse=True,
    )[:3]
    notes = []
    for last, result, seq in slowest:
        entry = result.messages[seq]
        note = (
            f"round {result.round} seq {seq}: first {entry[2] * 1000:.0f}, last {last * 1000:.0f}"
        )
        before = result.messages.get(seq - 1)
        if before is not None:
            gap = (entry[1] - before[1]) * 1000
            note += (
                f" (seq {seq - 1} {before[0]} sent {gap:.0f} ms before, its last client at "
                f"{before[3] * 1000:.0f})"
            )
        notes.append(note)
    print(f"  {name}: slowest `events` (ms): {'; '.join(notes)}")


def delivery_report(targets: list[Target]) -> None:
    for target in targets:
        expected = target.batches_sent
        short = [c for c in target.clients if c.events != expected]
        gaps = sum(c.gaps for c in target.clients)
        disorder = sum(c.out_of_order for c in target.clients)
        closed = Counter(c.close_code for c in target.clients if c.close_code is not None)
        other: Counter[str] = Counter()
        for client in target.clients:
            other.update(client.other)
        verdict = "OK" if not (short or gaps or disorder or closed) else "FAILED"
        print(
            f"delivery {target.name:6} {verdict}: {len(target.clients) - len(short)} of "
            f"{len(target.clients)} clients received all {expected} `events` messages; seq "
            f"gaps {gaps}, out of order {disorder}; closed by the server: "
            f"{dict(closed) or 'none'}; other messages: {dict(other) or 'none'}"
        )


def checks_report(
    targets: list[Target], by_target: dict[str, list[Result]], measured: list[Result]
) -> None:
    for target in targets:
        if not target.prodlens:
            continue
        p99 = ms(pooled(by_target[target.name], "events"), 99)
        verdict = "met" if p99 < P99_TARGET_MS else "MISSED"
        print(
            f"goal {target.name:6} `events` p99 < {P99_TARGET_MS:g} ms with {CLIENTS} clients: "
            f"{p99:.1f} ms, {verdict}"
        )
    busy = [r.client_cpu / r.wall for r in measured]
    print(
        f"client check: this process (every client, core 1) busy median "
        f"{statistics.median(busy):.0%}, max {max(busy):.0%} of a round's wall time."
    )
    core0 = [r.core0_other for r in measured]
    core1 = [r.core1_other for r in measured]
    print(
        f"noise check: core 0 busy with anything but the servers: median "
        f"{statistics.median(core0):.0%}, max {max(core0):.0%}; core 1 with anything but "
        f"the clients: median {statistics.median(core1):.0%}, max {max(core1):.0%} "
        "(redis-server is not pinned: it counts in one of them)."
    )
    if max(core0) > NOISY or max(core1) > NOISY:
        print("WARNING: another load took over 10% of a core in some round: noisy figures.")
    for target in targets:
        lines = [
            line
            for line in target.log.read_text(errors="replace").splitlines()
            if re.search(r"warning|error|exception|traceback|critical", line, re.IGNORECASE)
        ]
        shown = "; ".join(sorted(set(lines))[:5])
        print(
            f"server log {target.name:6}: {len(lines)} warning/error lines"
            + (f": {shown}" if shown else "")
        )


def report(targets: list[Target], results: list[Result], redis_prefix: str | None) -> None:
    measured = [r for r in results if r.round > 0]
    by_target = {t.name: [r for r in measured if r.target == t.name] for t in targets}
    print()
    memory_report(targets)
    print()
    latency_report(targets, by_target)
    print()
    delivery_report(targets)
    checks_report(targets, by_target, measured)
    sizes = ", ".join(
        f"{kind} {len(json.dumps(data, separators=(',', ':')))} B"
        for kind, data in sorted(TEMPLATES.items())
    )
    print(f"message data sizes (JSON, last received, before permessage-deflate): {sizes}")
    if redis_prefix is not None:
        print(f"redis: key prefix {redis_prefix} (its keys deleted afterwards)")


# --- main ----------------------------------------------------------------------------------


async def bench(targets: list[Target], redis_prefix: str | None) -> None:
    redis = redis_pid() if redis_prefix is not None else None
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        for target in targets:
            if target.prodlens:
                await provision(http, target)
        for target in targets:
            target.rss_kib[0] = rss_kib(target.pid)
            first = min(100, CLIENTS)
            await connect_clients(target, first)
            await asyncio.sleep(IDLE_SETTLE_S)
            target.rss_kib[first] = rss_kib(target.pid)
            await connect_clients(target, CLIENTS - first)
            await asyncio.sleep(IDLE_SETTLE_S)
            target.rss_kib[CLIENTS] = rss_kib(target.pid)
            target.plain_kib = await plain_sockets_kib(target)
            print(
                f"  {target.name:6} {CLIENTS} sockets subscribed; VmRSS {kib(target.rss_kib[0])} "
                f"-> {kib(target.rss_kib[CLIENTS])}",
                flush=True,
            )
        # The clients' own objects (3 x CLIENTS sockets) stay for the whole run: out of the
        # cyclic GC's way, so that its full collections do not pause every client at once.
        gc.collect()
        gc.freeze()
        results: list[Result] = []
        for number in range(ROUNDS + 1):
            shift = number % len(targets)
            order = targets[shift:] + targets[:shift]
            if not {"events", "session", "kpis"} <= TEMPLATES.keys():
                order.sort(key=lambda t: t.name == "bare")  # the bare server needs the data
            label = "warm-up" if number == 0 else f"round {number}/{ROUNDS}"
            for target in order:
                result = await run_round(http, target, targets, number, redis)
                results.append(result)
                print(round_line(label, result), flush=True)
            if number == 0 and redis_prefix is not None and not redis_sequences(redis_prefix):
                raise BenchError("no channel counter under the Redis prefix: Redis is unused")
        for target in targets:
            target.closing = True
            await asyncio.gather(*(c.ws.close() for c in target.clients), return_exceptions=True)
    report(targets, results, redis_prefix)


def main() -> None:
    if shutil.which("taskset") is None:
        sys.exit(f"{prog()}: `taskset` not found (package util-linux).")
    if not {SERVER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0):
        sys.exit(f"{prog()}: needs CPUs {SERVER_CORE} and {CLIENT_CORE}")
    os.sched_setaffinity(0, {CLIENT_CORE})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 3 * CLIENTS + 500
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(wanted, soft)), hard))
        if min(hard, wanted) < wanted:
            sys.exit(f"{prog()}: needs {wanted} open files; the hard limit is {hard}")
    redis_prefix = f"bench-rt-{uuid.uuid4().hex[:8]}:" if redis_available() else None

    import websockets

    print(
        f"Live feed: {CLIENTS} WebSocket clients on one channel, one worker, SQLite; "
        "memory and Redis brokers vs a bare Starlette fan-out"
    )
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'full' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up; per round and "
        f"server {BATCHES} batches of {EVENTS_PER_BATCH} events (one session), one every "
        f"{INTERVAL_S:g} s"
    )
    print(
        f"  servers  prodlens {' '.join(prodlens_serve_argv(0)[1:-1])} PORT on core 0, SQLite, "
        f"demo off, WARNING logs, rate limits off, realtime connection limits per user and per IP "
        f"{CONNECTION_LIMIT}; redis: REDIS_URL={REDIS_URL}"
        + ("" if redis_prefix else " (NOT REACHABLE: skipped)")
        + "; bare: uvicorn bench_realtime:bare_feed_app, same options"
    )
    print(
        f"  clients  this process on core 1, one uvloop event loop, websockets "
        f"{websockets.__version__} ({'' if DEFLATE else 'NO '}permessage-deflate, no client "
        "pings)"
    )
    print(
        "  per round: events p50/p99 at the clients, channel messages delivered, server CPU "
        "per message, server and client busy, other load on core 0/core 1"
    )

    import uvloop

    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as tmp:
        workdir = Path(tmp)
        targets = [prodlens_target("memory", workdir, None)]
        if redis_prefix is not None:
            targets.append(prodlens_target("redis", workdir, redis_prefix))
        targets.append(bare_target(workdir))
        servers = contextlib.ExitStack()
        try:
            source = server_source(targets[0])
            before = tree_fingerprint(source)
            for target in targets:
                start(target, servers)
            loaded = tree_fingerprint(source)
            print(f"  source   the servers import prodlens from {source}, fingerprint {loaded}")
            if loaded != before:
                print("WARNING: the source changed while the servers started: other code ran.")
            uvloop.run(bench(targets, redis_prefix))
            if tree_fingerprint(source) != loaded:
                print("WARNING: the source changed during the run (the servers kept theirs).")
        finally:
            servers.close()
            if redis_prefix is not None:
                with contextlib.suppress(Exception):
                    delete_redis_keys(redis_prefix)


if __name__ == "__main__":
    main()
