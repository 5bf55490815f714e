"""Login cost: `POST /api/v1/auth/login` against argon2id at the same parameters, one core.

What it measures
    * baseline  `argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)`
                (argon2id, the defaults of AuthSettings) in threads of this process
                pinned to core 0: hashes/s and verifies/s in one thread, and
                verifies/s in 4 threads at once (as the server's thread pool runs
                them at 4 connections), with the CPU each takes (the threads' CPU
                time). A login verifies, so verifies/s is its ceiling.
    * login     `prodlens serve --workers 1` pinned to core 0, with a throwaway SQLite
                database, WARNING logging, rate limits off and the same argon2
                parameters, one account made with `prodlens create-admin`; wrk on
                core 1 POSTs the account's JSON credentials at 1 and at 4
                connections. Logins/s, server CPU per login (utime+stime of the
                server process, all threads, from /proc/PID/stat), wrk's p50/p99.
                Every login also reads the account, writes a session row and an
                audit row. A second server, whose account and settings use the
                cheapest argon2 AuthSettings accepts (t=1, m=1024 KiB, about 0.5 ms),
                gives what a login costs beyond the hash (wrk -c1).
    * event loop  a paced client in this process (core 1, one keep-alive connection,
                one `GET /health` every 10 ms) measures /health latency with the
                server idle, then while wrk hammers login at 4 connections. If
                hashing ran on the event loop, /health would wait behind whole hashes
                and nearly every probe would take longer than one hash.

    Figures: logins/s ÷ verifies/s (and ÷ hashes/s); server CPU per login ÷ CPU per
    verify; /health p50/p99 idle vs under login load, and the share of probes slower
    than one hash. Each round runs hash, verify, verify x4, login -c1, cheap login
    -c1, login -c4, idle probe, loaded probe, in that order; ratios are taken within
    a round and reported as median (min-max); one warm-up round is discarded. See
    /work/shared/BENCH.md for the rules.

    The account's password is not the issue's `bench-passphrase-913`: the password
    policy refuses a password that contains the username (`bench`).

Run
    make bench                          # all benchmarks, small size
    .venv/bin/python bench/bench_login.py
    BENCH_FULL=1 .venv/bin/python bench/bench_login.py  # 10 s wrk runs, 10 rounds

    Needs wrk and at least two CPUs; installs nothing; only 127.0.0.1 traffic.
    Default size takes about three minutes, BENCH_FULL=1 about twelve.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    NOISY,
    SATURATED,
    SERVER_CORE,
    SETUP_TIMEOUT_S,
    BenchError,
    Sample,
    ServerSpec,
    check_errors,
    check_tools,
    cores_busy_seconds,
    free_port,
    http_request,
    machine_lines,
    measure_wrk,
    median_of,
    on_core,
    parse_requests,
    percentile,
    prodlens_env,
    prodlens_serve_argv,
    ratio_text,
    running,
    source_fingerprint,
    venv_script,
    wrk_argv,
)
from argon2 import PasswordHasher, Type

ROUNDS = 10 if FULL else 5
LOGIN_S = 10 if FULL else 4  # one wrk run on login
HASH_S = 5 if FULL else 2  # one argon2 loop
PROBE_S = 5 if FULL else 2  # idle /health probe
CONNECTIONS = 4
PROBE_INTERVAL_S = 0.010
# The loaded probe starts this long after wrk and stops this long before its end.
PROBE_MARGIN_S = 0.5

TIME_COST = 2
MEMORY_KIB = 19456
PARALLELISM = 1
# The cheapest parameters AuthSettings accepts: a second server whose login is all but the hash.
MIN_TIME_COST = 1
MIN_MEMORY_KIB = 1024

EMAIL = "bench@example.com"
USERNAME = "bench"
PASSWORD = "quartz-passphrase-913"
LOGIN_BODY = json.dumps({"username": USERNAME, "password": PASSWORD})
LOGIN_PATH = "/api/v1/auth/login"


@dataclass(frozen=True)
class LoopSample:
    """argon2 in threads of this process, pinned to the server core."""

    ops_per_s: float
    cpu_ms_per_op: float  # the threads' CPU time / operations
    core_other: float  # server core busy with anything else / wall seconds


@dataclass(frozen=True)
class ProbeSample:
    latencies_ms: list[float]
    logins_per_s: float | None  # wrk's rate on login during the probe, if any

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)


@dataclass(frozen=True)
class Round:
    hashing: LoopSample
    verifying: LoopSample
    verifying_n: LoopSample  # CONNECTIONS threads at once, as the server runs them
    login_1: Sample  # wrk -c1
    login_min: Sample  # wrk -c1 on the server with the cheapest argon2 parameters
    login: Sample  # wrk -c CONNECTIONS
    idle: ProbeSample
    loaded: ProbeSample

    @property
    def login_per_verify(self) -> float:
        return self.login.requests_per_s / self.verifying.ops_per_s

    @property
    def login_per_hash(self) -> float:
        return self.login.requests_per_s / self.hashing.ops_per_s

    @property
    def cpu_login_per_verify(self) -> float:
        return cpu_ms(self.login) / self.verifying.cpu_ms_per_op

    @property
    def cpu_login_1_per_verify(self) -> float:
        return cpu_ms(self.login_1) / self.verifying.cpu_ms_per_op

    @property
    def cpu_login_per_verify_n(self) -> float:
        return cpu_ms(self.login) / self.verifying_n.cpu_ms_per_op

    @property
    def server_other(self) -> float:
        return max(
            self.hashing.core_other,
            self.verifying.core_other,
            self.verifying_n.core_other,
            self.login_1.server_core_other,
            self.login_min.server_core_other,
            self.login.server_core_other,
        )

    @property
    def client_other(self) -> float:
        return max(
            self.login_1.client_core_other,
            self.login_min.client_core_other,
            self.login.client_core_other,
        )


def cpu_ms(sample: Sample) -> float:
    return sample.cpu_us_per_request / 1000


# --- the baseline --------------------------------------------------------------------------


def hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID
    )


def argon2_loop(operation: Callable[[], object], seconds: float, threads: int = 1) -> LoopSample:
    """Run `operation` in `threads` threads on the server core for `seconds`."""
    counts = [0] * threads
    cpu = [0.0] * threads

    def work(index: int, deadline: float) -> None:
        before = time.thread_time()
        while time.monotonic() < deadline:
            operation()
            counts[index] += 1
        cpu[index] = time.thread_time() - before

    with on_core(SERVER_CORE):
        operation()  # settle on the core
        cores_before = cores_busy_seconds()[0]
        started = time.monotonic()
        workers = [
            threading.Thread(target=work, args=(index, started + seconds))
            for index in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.monotonic() - started
        core = cores_busy_seconds()[0] - cores_before
    count, spent = sum(counts), sum(cpu)
    if count == 0:
        raise BenchError("the argon2 loop completed no operation")
    return LoopSample(count / wall, spent / count * 1000, max(core - spent, 0.0) / wall)


# --- the server ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    pid: int
    port: int


def login_env(cwd: Path, time_cost: int, memory_kib: int) -> dict[str, str]:
    env = prodlens_env(cwd, "WARNING")
    env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
    env["PRODLENS_AUTH__ARGON2_TIME_COST"] = str(time_cost)
    env["PRODLENS_AUTH__ARGON2_MEMORY_KIB"] = str(memory_kib)
    env["PRODLENS_AUTH__ARGON2_PARALLELISM"] = str(PARALLELISM)
    return env


def prepare(workdir: Path, name: str, port: int, time_cost: int, memory_kib: int) -> ServerSpec:
    """Migrate a throwaway database and create the account; the spec of its server."""
    cwd = workdir / name
    cwd.mkdir()
    env = login_env(cwd, time_cost, memory_kib)
    prodlens = venv_script("prodlens")
    steps = [
        ([prodlens, "migrate"], None),
        (
            [prodlens, "create-admin", "--email", EMAIL, "--username", USERNAME],
            f"{PASSWORD}\n",
        ),
    ]
    for argv, stdin in steps:
        if stdin is not None:
            argv = [*argv, "--password-stdin"]
        result = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            input=stdin or "",
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"{' '.join(argv[1:3])} failed:\n{result.stdout}{result.stderr}")
    return ServerSpec(name, prodlens_serve_argv(port), env, cwd, cwd / "server.log")


def check_login(port: int) -> None:
    status, _headers, body = http_request(
        port,
        LOGIN_PATH,
        method="POST",
        body=LOGIN_BODY.encode(),
        headers={"Content-Type": "application/json"},
    )
    if status != 200 or b"access_token" not in body:
        raise BenchError(f"login answered {status}: {body[:300]!r}")


def write_lua(workdir: Path) -> Path:
    script = workdir / "login.lua"
    body = LOGIN_BODY.replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return script


# --- the event-loop probe ------------------------------------------------------------------


def probe_health(port: int, seconds: float) -> list[float]:
    """GET /health every PROBE_INTERVAL_S on one keep-alive connection; latencies in ms."""
    latencies: list[float] = []
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        with on_core(CLIENT_CORE):
            started = time.monotonic()
            due = started
            while time.monotonic() - started < seconds:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent = time.perf_counter()
                conn.request("GET", "/health")
                response = conn.getresponse()
                response.read()
                latencies.append((time.perf_counter() - sent) * 1000)
                if response.status != 200:
                    raise BenchError(f"/health answered {response.status} during the probe")
                due = max(due + PROBE_INTERVAL_S, time.monotonic())
    finally:
        conn.close()
    if not latencies:
        raise BenchError("the /health probe completed no request")
    return latencies


def probe_under_login(port: int, script: Path) -> ProbeSample:
    """The probe while wrk runs login; wrk's rate during it."""
    argv = login_argv(port, script, CONNECTIONS)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as wrk:
        try:
            time.sleep(PROBE_MARGIN_S)
            latencies = probe_health(port, LOGIN_S - 2 * PROBE_MARGIN_S)
            output, errors = wrk.communicate(timeout=LOGIN_S + 30)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
    if wrk.returncode != 0:
        raise BenchError(f"wrk failed ({wrk.returncode}): {errors or output}")
    check_errors(output, "login (probed)")
    return ProbeSample(latencies, parse_requests(output)[1])


# --- the rounds ----------------------------------------------------------------------------


def login_argv(port: int, script: Path, connections: int) -> list[str]:
    url = f"http://{HOST}:{port}{LOGIN_PATH}"
    return wrk_argv(url, connections=connections, duration_s=LOGIN_S, script=script)


def run_round(main: Server, cheap: Server, script: Path, password_hash: str, tag: str) -> Round:
    ph = hasher()

    def verify() -> object:
        return ph.verify(password_hash, PASSWORD)

    hashing = argon2_loop(lambda: ph.hash(PASSWORD), HASH_S)
    verifying = argon2_loop(verify, HASH_S)
    verifying_n = argon2_loop(verify, HASH_S, threads=CONNECTIONS)
    pid, port = main.pid, main.port
    login_1 = measure_wrk("login -c1", pid, login_argv(port, script, 1), LOGIN_S)
    login_min = measure_wrk(
        "login -c1 (cheapest argon2)", cheap.pid, login_argv(cheap.port, script, 1), LOGIN_S
    )
    login = measure_wrk(
        f"login -c{CONNECTIONS}", pid, login_argv(port, script, CONNECTIONS), LOGIN_S
    )
    idle = ProbeSample(probe_health(port, PROBE_S), None)
    loaded = probe_under_login(port, script)
    result = Round(hashing, verifying, verifying_n, login_1, login_min, login, idle, loaded)
    slow = share_slower(loaded.latencies_ms, hashing.cpu_ms_per_op)
    print(
        f"  {tag:>11}  {hashing.ops_per_s:4.1f} {hashing.cpu_ms_per_op:4.1f}  "
        f"{verifying.ops_per_s:4.1f} {verifying.cpu_ms_per_op:4.1f}  "
        f"{verifying_n.ops_per_s:4.1f} {verifying_n.cpu_ms_per_op:4.1f} | "
        f"{login_1.requests_per_s:4.1f} {cpu_ms(login_1):4.1f}  "
        f"{login_min.requests_per_s:4.0f} {cpu_ms(login_min):4.1f}  "
        f"{login.requests_per_s:4.1f} {cpu_ms(login):4.1f} {login.server_busy:4.0%} | "
        f"x{result.login_per_verify:.2f} | "
        f"{idle.p50_ms:4.2f} {idle.p99_ms:5.2f}  {loaded.p50_ms:4.2f} {loaded.p99_ms:5.2f} "
        f"{slow:3.0%} | {result.server_other:3.0%}/{result.client_other:3.0%}",
        flush=True,
    )
    return result


def share_slower(latencies_ms: list[float], threshold_ms: float) -> float:
    return sum(1 for value in latencies_ms if value >= threshold_ms) / len(latencies_ms)


def run_rounds(main: Server, cheap: Server, script: Path) -> list[Round]:
    print(
        "  per round: rate/s and CPU ms each of hash, verify, verify in "
        f"{CONNECTIONS} threads | of login -c1, login -c1 with the cheapest argon2, "
        f"login -c{CONNECTIONS}, + server busy | logins/s ÷ verifies/s | /health p50 p99 ms "
        "idle, under login + share >= 1 hash | other load on core "
        f"{SERVER_CORE}/core {CLIENT_CORE}"
    )
    password_hash = hasher().hash(PASSWORD)
    rounds: list[Round] = []
    for round_no in range(ROUNDS + 1):
        tag = "warm-up" if round_no == 0 else f"round {round_no}/{ROUNDS}"
        result = run_round(main, cheap, script, password_hash, tag)
        if round_no:
            rounds.append(result)
    return rounds


# --- report --------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return float(statistics.median(values))


def print_report(rounds: list[Round]) -> None:
    print(f"{'':<38} {'per s':>6} {'CPU ms each':>11} {'p50 ms':>7} {'p99 ms':>7}")
    loops = (
        ("argon2id hash, 1 thread", [r.hashing for r in rounds]),
        ("argon2id verify, 1 thread", [r.verifying for r in rounds]),
        (f"argon2id verify, {CONNECTIONS} threads", [r.verifying_n for r in rounds]),
    )
    for label, loop in loops:
        print(
            f"{label:<38} {med([x.ops_per_s for x in loop]):6.1f} "
            f"{med([x.cpu_ms_per_op for x in loop]):11.2f}"
        )
    for label, samples in (
        (f"POST {LOGIN_PATH} -c1", [r.login_1 for r in rounds]),
        (
            f"  same, argon2 t={MIN_TIME_COST} m={MIN_MEMORY_KIB} KiB",
            [r.login_min for r in rounds],
        ),
        (f"POST {LOGIN_PATH} -c{CONNECTIONS}", [r.login for r in rounds]),
    ):
        print(
            f"{label:<38} {median_of(samples, 'requests_per_s'):6.1f} "
            f"{median_of(samples, 'cpu_us_per_request') / 1000:11.2f} "
            f"{median_of(samples, 'p50_ms'):7.1f} {median_of(samples, 'p99_ms'):7.1f}"
        )
    ratios = (
        (f"logins/s (-c{CONNECTIONS}) ÷ verifies/s", [r.login_per_verify for r in rounds]),
        (f"logins/s (-c{CONNECTIONS}) ÷ hashes/s", [r.login_per_hash for r in rounds]),
        ("server CPU/login (-c1) ÷ CPU/verify", [r.cpu_login_1_per_verify for r in rounds]),
        (
            f"server CPU/login (-c{CONNECTIONS}) ÷ CPU/verify",
            [r.cpu_login_per_verify for r in rounds],
        ),
        (
            f"server CPU/login (-c{CONNECTIONS}) ÷ CPU/verify in {CONNECTIONS} threads",
            [r.cpu_login_per_verify_n for r in rounds],
        ),
    )
    for label, values in ratios:
        print(f"{label:<52} {ratio_text(values)}")
    extra_1 = [cpu_ms(r.login_1) - r.verifying.cpu_ms_per_op for r in rounds]
    cheapest = median_of([r.login_min for r in rounds], "cpu_us_per_request") / 1000
    print(
        f"(medians over {ROUNDS} rounds; ratios taken within each round.) Server CPU per "
        f"login beyond the hash: login -c1 minus verify {med(extra_1):.1f} ms; a whole login "
        f"with the cheapest argon2 {cheapest:.1f} ms."
    )
    print()
    idle = [v for r in rounds for v in r.idle.latencies_ms]
    loaded = [v for r in rounds for v in r.loaded.latencies_ms]
    hash_ms = med([r.hashing.cpu_ms_per_op for r in rounds])
    during = [r.loaded.logins_per_s or 0.0 for r in rounds]
    print(
        f"event loop: GET /health every {PROBE_INTERVAL_S * 1000:.0f} ms on one connection, "
        f"all rounds pooled; one hash = {hash_ms:.1f} ms CPU"
    )
    print(f"{'':<32} {'probes':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'>= 1 hash':>9}")
    for label, values in (
        ("idle server", idle),
        (f"during login load (-c{CONNECTIONS})", loaded),
    ):
        print(
            f"{label:<32} {len(values):6d} {percentile(values, 50):7.2f} "
            f"{percentile(values, 99):7.2f} {max(values):7.2f} "
            f"{share_slower(values, hash_ms):9.1%}"
        )
    p99_ratio = [r.loaded.p99_ms / r.idle.p99_ms for r in rounds]
    unprobed = median_of([r.login for r in rounds], "requests_per_s")
    print(
        f"p99 under load ÷ p99 idle, per round: {ratio_text(p99_ratio)}; logins/s while "
        f"probed: {med(during):.1f} (vs {unprobed:.1f} unprobed)"
    )


def print_checks(rounds: list[Round]) -> None:
    busy = [r.login.server_busy for r in rounds]
    client = max(max(r.login.client_busy, r.login_1.client_busy) for r in rounds)
    print(
        f"client check: wrk used at most {client:.0%} of core {CLIENT_CORE}; the server core "
        f"was {med(busy):.0%} busy during -c{CONNECTIONS} login runs (median)."
    )
    if med(busy) < SATURATED:
        print(f"WARNING: server core not saturated (<{SATURATED:.0%}) during login runs.")
    server_other = [r.server_other for r in rounds]
    client_other = [r.client_other for r in rounds]
    for core, other in ((SERVER_CORE, server_other), (CLIENT_CORE, client_other)):
        print(
            f"noise check: core {core} busy with anything but the benchmark (other processes, "
            f"steal, interrupts): median {med(other):.0%}, max {max(other):.0%}."
        )
    if max(*server_other, *client_other) > NOISY:
        print(f"WARNING: another load took over {NOISY:.0%} of a core in some run: noisy figures.")


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    check_tools()
    print("Login cost: POST /api/v1/auth/login vs argon2id at the same parameters, one core")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up; "
        f"argon2id t={TIME_COST} m={MEMORY_KIB} KiB p={PARALLELISM}, {HASH_S}s per loop; "
        f"wrk -t1 -c{CONNECTIONS} -d{LOGIN_S}s on core {CLIENT_CORE}; server on core "
        f"{SERVER_CORE}"
    )
    with tempfile.TemporaryDirectory(prefix="prodlens-bench-") as tmp:
        workdir = Path(tmp)
        port, cheap_port = free_port(), free_port()
        spec = prepare(workdir, "prodlens", port, TIME_COST, MEMORY_KIB)
        cheap_spec = prepare(workdir, "prodlens-cheap", cheap_port, MIN_TIME_COST, MIN_MEMORY_KIB)
        script = write_lua(workdir)
        source = source_fingerprint()
        with running(spec, port) as pid, running(cheap_spec, cheap_port) as cheap_pid:
            check_login(port)
            check_login(cheap_port)
            loaded = source_fingerprint()
            print(f"  source   src/ fingerprint {loaded} when the servers started")
            if loaded != source:
                print("WARNING: src/ changed while the servers started: they may run other code.")
            rounds = run_rounds(Server(pid, port), Server(cheap_pid, cheap_port), script)
        if source_fingerprint() != loaded:
            print("WARNING: src/ changed on disk during the run (the server kept what it loaded).")
    print()
    print_report(rounds)
    print_checks(rounds)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench_login: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench_login: interrupted")
