"""Register timing: a taken email against a new one (does the answer tell who has an account?).

What it measures
    `prodlens serve --workers 1` on SQLite, pinned to core 0, rate limits off,
    WARNING logging, argon2id at the AuthSettings defaults (t=2, m=19456 KiB, p=1).
    One account exists (`owner@example.com`). This process, pinned to core 1, sends
    `POST /api/v1/auth/register` on one keep-alive connection, in pairs: one with
    the taken email, one with a new email, in a random order within each pair (a
    fixed seed), the same password and display name, usernames of the same length.

    * baseline  `argon2.PasswordHasher.hash` at the same parameters, in this
                process pinned to core 0, between the rounds: what one hash costs.
    * taken / new  each request's latency (client side) and the server CPU it took
                (utime+stime of the server from /proc/PID/stat before and after the
                request; 10 ms ticks, so only sums over many requests mean anything).

    Figures per round: median latency of each path, the difference new - taken (ms)
    and the ratio taken/new, and the difference as a share of one hash; over all
    rounds: the two-sided Mann-Whitney U p-value of taken vs new latencies (a small
    p says the paths can be told apart) and server CPU per registration per path.

    BENCH_SRC=/path/to/src adds a second server run from another source tree
    (PYTHONPATH), its rounds interleaved with this checkout's (a b a b ...), to
    measure the code before a change in the same run, e.g.
    `git archive HEAD src migrations | tar -x -C /tmp/before`, then
    BENCH_SRC=/tmp/before/src.

Run
    .venv/bin/python bench/bench_register.py
    BENCH_FULL=1 .venv/bin/python bench/bench_register.py   # 10 rounds of 200 pairs

    Needs two CPUs; installs nothing; only 127.0.0.1 traffic. Default size (5 rounds
    of 60 pairs + a warm-up) takes about a minute.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    SERVER_CORE,
    BenchError,
    ServerSpec,
    cpu_seconds,
    free_port,
    machine_lines,
    migrate,
    on_core,
    prodlens_env,
    prodlens_serve_argv,
    ratio_text,
    running,
)
from argon2 import PasswordHasher, Type
from scipy.stats import mannwhitneyu

ROUNDS = 10 if FULL else 5
PAIRS = 200 if FULL else 60
HASHES = 20 if FULL else 10
SEED = 17
PATH = "/api/v1/auth/register"
PASSWORD = "violet-lantern-ocean-42"
OWNER = "owner@example.com"


@dataclass
class Requests:
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0

    def add(self, latency_ms: float, cpu_s: float) -> None:
        self.latencies_ms.append(latency_ms)
        self.cpu_s += cpu_s


@dataclass(frozen=True)
class Round:
    taken: Requests
    new: Requests
    hash_ms: float

    @property
    def difference_ms(self) -> float:
        return statistics.median(self.new.latencies_ms) - statistics.median(self.taken.latencies_ms)

    @property
    def ratio(self) -> float:
        return statistics.median(self.taken.latencies_ms) / statistics.median(self.new.latencies_ms)


def hash_ms() -> float:
    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.ID)
    with on_core(SERVER_CORE):
        hasher.hash(PASSWORD)
        times = []
        for _ in range(HASHES):
            started = time.perf_counter()
            hasher.hash(PASSWORD)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def prepare(workdir: Path, port: int, source: str | None) -> ServerSpec:
    """A migrated throwaway database; the server spec, run from `source` when given."""
    cwd = workdir / "server"
    cwd.mkdir()
    env = prodlens_env(cwd, "WARNING")
    env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
    if source:
        env["PYTHONPATH"] = source
    migrate(env, cwd)
    return ServerSpec("register", prodlens_serve_argv(port), env, cwd, cwd / "server.log")


def body(email: str, username: str) -> bytes:
    return json.dumps(
        {"email": email, "username": username, "password": PASSWORD, "display_name": "Bench"}
    ).encode()


def register(conn: http.client.HTTPConnection, payload: bytes) -> float:
    started = time.perf_counter()
    conn.request("POST", PATH, body=payload, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 201:
        raise BenchError(f"register answered {response.status}: {data[:300]!r}")
    return elapsed


def run_round(port: int, pid: int, rng: random.Random, round_no: int) -> Round:
    taken, new = Requests(), Requests()
    # A connection per round: an idle keep-alive connection is closed by the server.
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.connect()
        for i in range(PAIRS):
            name = f"{round_no:02d}{i:05d}"
            order = [("taken", OWNER, f"t{name}"), ("new", f"n{name}@example.com", f"n{name}")]
            rng.shuffle(order)
            for kind, email, username in order:
                before = cpu_seconds(pid)
                latency = register(conn, body(email, username))
                (taken if kind == "taken" else new).add(latency, cpu_seconds(pid) - before)
    finally:
        conn.close()
    return Round(taken, new, hash_ms())


def report(label: str, rounds: list[Round]) -> None:
    taken_all = [v for r in rounds for v in r.taken.latencies_ms]
    new_all = [v for r in rounds for v in r.new.latencies_ms]
    p_value = mannwhitneyu(taken_all, new_all, alternative="two-sided").pvalue
    differences = [r.difference_ms for r in rounds]
    requests = PAIRS * ROUNDS
    cpu_taken = sum(r.taken.cpu_s for r in rounds) / requests * 1000
    cpu_new = sum(r.new.cpu_s for r in rounds) / requests * 1000
    print(f"\n{label}:")
    print(
        f"  new - taken, median ms per round: {statistics.median(differences):+.2f} "
        f"({min(differences):+.2f} to {max(differences):+.2f})"
    )
    print(f"  taken/new latency ratio: {ratio_text([r.ratio for r in rounds])}")
    print(f"  one argon2id hash: {statistics.median(r.hash_ms for r in rounds):.2f} ms")
    print(
        f"  Mann-Whitney U, taken vs new ({len(taken_all)} each): p = {p_value:.3g} "
        "(small p: the paths can be told apart)"
    )
    print(
        f"  server CPU per registration: taken {cpu_taken:.2f} ms, new {cpu_new:.2f} ms "
        f"(ratio {cpu_taken / cpu_new:.3f})"
    )


@dataclass(frozen=True)
class Server:
    label: str
    pid: int
    port: int


def main() -> None:
    print("Register timing: taken email vs new email (same body shape)")
    for line in machine_lines():
        print(f"  {line}")
    before = os.environ.get("BENCH_SRC")
    sources: list[tuple[str, str | None]] = [("this checkout", None)]
    if before:
        sources.append((f"source tree {before}", before))
    print(f"  servers  {', '.join(label for label, _ in sources)} (rounds interleaved)")
    print(
        f"  size     {'full' if FULL else 'default'}: {ROUNDS} rounds of {PAIRS} pairs "
        f"+ 1 warm-up; servers on core {SERVER_CORE}, client on core {CLIENT_CORE}"
    )
    rng = random.Random(SEED)
    results: dict[str, list[Round]] = {label: [] for label, _ in sources}
    with (
        tempfile.TemporaryDirectory(prefix="bench-register-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        servers = []
        for index, (label, source) in enumerate(sources):
            port = free_port()
            workdir = Path(tmp) / str(index)
            workdir.mkdir()
            pid = stack.enter_context(running(prepare(workdir, port, source), port))
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                register(conn, body(OWNER, "owner"))
            finally:
                conn.close()
            servers.append(Server(label, pid, port))
        stack.enter_context(on_core(CLIENT_CORE))
        print(
            "  per round: median ms taken, new, new - taken, taken/new, one hash ms, "
            "(new - taken)/hash"
        )
        for round_no in range(ROUNDS + 1):
            tag = "warm-up" if round_no == 0 else f"round {round_no}/{ROUNDS}"
            for server in servers:
                result = run_round(server.port, server.pid, rng, round_no)
                print(
                    f"  {tag:>11}  {server.label[:24]:<24} "
                    f"{statistics.median(result.taken.latencies_ms):6.2f} "
                    f"{statistics.median(result.new.latencies_ms):6.2f} "
                    f"{result.difference_ms:+6.2f}  x{result.ratio:.3f}  "
                    f"{result.hash_ms:6.2f}  {result.difference_ms / result.hash_ms:+.1%}",
                    flush=True,
                )
                if round_no:
                    results[server.label].append(result)
    for label, rounds in results.items():
        report(label, rounds)


if __name__ == "__main__":
    sys.exit(main())
