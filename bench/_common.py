"""Helpers shared by the benchmarks under bench/ (not a benchmark itself).

Servers pinned to one core and load generators to the other, free ports on
127.0.0.1, throwaway ProdLens working directories, server CPU from /proc/PID/stat,
wrk runs and their parsing, the machine description. The rules these follow are in
/work/shared/BENCH.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

FULL = os.environ.get("BENCH_FULL", "") not in ("", "0")
SERVER_CORE = 0
CLIENT_CORE = 1

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
HOST = "127.0.0.1"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
SETUP_TIMEOUT_S = 120.0  # a migration or a provisioning step on a loaded machine
# A server core busier than this during a run was saturated, as intended.
SATURATED = 0.9
# Above this share of the server core taken by anything else, a run was disturbed.
NOISY = 0.1

# The bare baseline: uvicorn at its fastest (uvloop, httptools), with the options
# `prodlens serve` passes. (`serve` itself runs asyncio's loop: bench_connections.py.)
BARE_UVICORN_OPTIONS = shlex.split(
    "--loop uvloop --http httptools --no-access-log --log-level warning "
    "--no-server-header --no-proxy-headers"
)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path | None  # None: output to /dev/null


@dataclass(frozen=True)
class Sample:
    requests: int
    requests_per_s: float
    cpu_us_per_request: float
    server_busy: float  # server CPU seconds / wall seconds
    # Busy time on each core not spent by the server (core 0) or wrk (core 1) / wall seconds:
    # other processes, steal, interrupts. Noise, ideally near 0.
    server_core_other: float
    client_core_other: float
    client_busy: float  # wrk CPU seconds / wall seconds
    p50_ms: float
    p99_ms: float


class BenchError(RuntimeError):
    pass


def prog() -> str:
    """The running benchmark's name (`bench_http`), for messages."""
    return Path(sys.argv[0]).stem or "bench"


# --- environment checks --------------------------------------------------------------------


def check_tools() -> None:
    """Exit with a clear message when wrk, taskset or the second core is missing."""
    if shutil.which("wrk") is None:
        sys.exit(f"{prog()}: `wrk` not found. Install it (Debian/Ubuntu: apt-get install -y wrk).")
    if shutil.which("taskset") is None:
        sys.exit(f"{prog()}: `taskset` not found (package util-linux).")
    cores = os.sched_getaffinity(0)
    if not {SERVER_CORE, CLIENT_CORE} <= cores:
        sys.exit(f"{prog()}: needs CPUs {SERVER_CORE} and {CLIENT_CORE}; available: {cores}")


def venv_script(name: str) -> str:
    """A console script installed next to this interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{prog()}: `{name}` not found; run `make install` first.")
    return found


def run_text(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_lines() -> list[str]:
    """`date`, `commit` and `machine` lines for a benchmark's header."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    commit = run_text(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"])
    dirty = run_text(["git", "-C", str(PROJECT_DIR), "status", "--porcelain", "--", "src"])
    changes = (
        f" (+ uncommitted changes: {len(dirty.splitlines())} paths under src/)"
        if (dirty and dirty != "unknown")
        else ""
    )
    return [
        f"date     {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
        f"commit   {commit}{changes}",
        f"machine  nproc={os.cpu_count()}, {cpu_model}, Python {platform.python_version()}",
    ]


def source_fingerprint() -> str:
    """A digest of src/ as it is on disk now: a server started later may load other code."""
    digest = hashlib.sha256()
    for path in sorted((PROJECT_DIR / "src").rglob("*.py")):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --- servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pinned(argv: list[str], core: int) -> list[str]:
    # taskset execs the command: the child's pid is the server's (or wrk's) pid.
    return ["taskset", "-c", str(core), *argv]


@contextlib.contextmanager
def on_core(core: int) -> Iterator[None]:
    """Pin this thread (and the threads it starts) to `core` for the block."""
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def migrate(env: dict[str, str], cwd: Path) -> None:
    """`prodlens migrate` with `env` in `cwd` (serve only migrates SQLite by itself)."""
    result = subprocess.run(
        [venv_script("prodlens"), "migrate"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"prodlens migrate failed:\n{result.stdout}{result.stderr}")


def bare_spec(workdir: Path, port: int) -> ServerSpec:
    app = ["bare_app:app", "--app-dir", str(BENCH_DIR), "--host", HOST, "--port", str(port)]
    argv = [venv_script("uvicorn"), *app, *BARE_UVICORN_OPTIONS]
    cwd = workdir / "bare"
    cwd.mkdir()
    return ServerSpec("bare", argv, dict(os.environ), cwd, cwd / "server.log")


def prodlens_env(cwd: Path, log_level: str) -> dict[str, str]:
    """The caller's environment minus any ProdLens setting, plus a throwaway database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PRODLENS_") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PRODLENS_LOG_LEVEL"] = log_level
    env["PRODLENS_DATA_DIR"] = str(cwd / "data")
    # A measured server starts on exactly the data the benchmark puts there.
    env["PRODLENS_DEMO_ON_EMPTY"] = "false"
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{cwd / 'bench.db'}"
    return env


def prodlens_serve_argv(port: int) -> list[str]:
    return [venv_script("prodlens"), "serve", "--workers", "1", "--host", HOST, "--port", str(port)]


def log_tail(spec: ServerSpec, lines: int = 20) -> str:
    if spec.log is None or not spec.log.exists():
        return "(no log kept)"
    return "\n".join(spec.log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_listening(proc: subprocess.Popen[bytes], spec: ServerSpec, port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{spec.name} exited with {proc.returncode}:\n{log_tail(spec)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise BenchError(f"{spec.name} not listening on {port} after {READY_TIMEOUT_S}s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running(spec: ServerSpec, port: int) -> Iterator[int]:
    """Start the server pinned to the server core; yield its pid; SIGTERM it afterwards."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(
            spec.log.open("wb") if spec.log else open(os.devnull, "wb")  # noqa: SIM115
        )
        proc = subprocess.Popen(
            pinned(spec.argv, SERVER_CORE),
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches us, and we stop it cleanly
        )
        stack.callback(stop_server, proc)
        wait_until_listening(proc, spec, port)
        yield proc.pid


def http_request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: status, headers (lower-cased names), body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def check_route(port: int, path: str) -> None:
    """One request before measuring: the route must answer 200."""
    status, _headers, _body = http_request(port, path)
    if status != 200:
        raise BenchError(f"GET {path} on port {port} answered {status}, expected 200")


# --- CPU accounting ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; state is fields[0]
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def cores_busy_seconds() -> tuple[float, float]:
    """Busy time (user, nice, system, irq, softirq, steal) of the server and client cores."""
    busy: dict[str, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name.startswith("cpu"):
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, ticks[:8])
            busy[name] = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return busy[f"cpu{SERVER_CORE}"], busy[f"cpu{CLIENT_CORE}"]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- wrk -----------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_latency_ms(output: str, percentile: int) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    if match is None:
        raise BenchError(f"no p{percentile} in wrk output:\n{output}")
    return float(match[1]) * _UNIT_MS[match[2]]


def parse_requests(output: str) -> tuple[int, float]:
    count = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if count is None or rate is None:
        raise BenchError(f"unexpected wrk output:\n{output}")
    return int(count[1]), float(rate[1])


def check_errors(output: str, label: str) -> None:
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise BenchError(f"{label}: {non_2xx[1]} non-2xx responses")
    sockets = re.search(r"Socket errors: (.*)", output)
    if sockets:
        print(f"  warning: {label}: socket errors: {sockets[1]}", file=sys.stderr)


def wrk_argv(
    url: str, *, connections: int, duration_s: float, script: Path | None = None
) -> list[str]:
    """`wrk -t1 -cN -dDs --latency [-s script] URL`, pinned to the client core."""
    wrk = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s:g}s", "--latency"]
    if script is not None:
        wrk += ["-s", str(script)]
    return pinned([*wrk, url], CLIENT_CORE)


def run_wrk(argv: Sequence[str], duration_s: float) -> tuple[str, float, float]:
    """wrk's output, the wall seconds and wrk's CPU seconds."""
    client_before, started = children_cpu_seconds(), time.monotonic()
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    wall, client_cpu = time.monotonic() - started, children_cpu_seconds() - client_before
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return result.stdout, wall, client_cpu


def sample_of(
    label: str,
    output: str,
    *,
    wall: float,
    server_cpu: float,
    client_cpu: float,
    server_core: float,
    client_core: float,
) -> Sample:
    """A Sample from wrk's output and the CPU deltas taken around it."""
    check_errors(output, label)
    requests, rate = parse_requests(output)
    if requests == 0:
        raise BenchError(f"{label}: wrk completed no request")
    return Sample(
        requests=requests,
        requests_per_s=rate,
        cpu_us_per_request=server_cpu / requests * 1e6,
        server_busy=server_cpu / wall,
        server_core_other=max(server_core - server_cpu, 0.0) / wall,
        client_core_other=max(client_core - client_cpu, 0.0) / wall,
        client_busy=client_cpu / wall,
        p50_ms=parse_latency_ms(output, 50),
        p99_ms=parse_latency_ms(output, 99),
    )


def measure_wrk(label: str, pid: int, argv: Sequence[str], duration_s: float) -> Sample:
    """Run wrk against the server `pid`; its CPU per request, rate, latency and the noise."""
    before, cores_before = cpu_seconds(pid), cores_busy_seconds()
    output, wall, client_cpu = run_wrk(argv, duration_s)
    server_cpu = cpu_seconds(pid) - before
    server_core, client_core = (
        a - b for a, b in zip(cores_busy_seconds(), cores_before, strict=True)
    )
    return sample_of(
        label,
        output,
        wall=wall,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        server_core=server_core,
        client_core=client_core,
    )


# --- report --------------------------------------------------------------------------------


def median_of(samples: Sequence[Sample], field: str) -> float:
    return float(statistics.median(getattr(sample, field) for sample in samples))


def ratio_text(values: Sequence[float]) -> str:
    if not values:
        return "1 (baseline)"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0-100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]
