"""Latency at 200 keep-alive connections opened at once: the event loop's accept rate.

What it measures
    wrk opens all its connections at the start of a run and keeps them alive. With
    200 of them on a saturated server, an event loop that accepts one connection per
    iteration (uvloop: libuv has accepted one per poll event since 1.45, "unix: don't
    accept() connections in a loop") leaves most of them in the kernel's accept queue
    for as many iterations, each as long as the work of every request in flight:
    their first requests wait seconds, about 1% of a short run, which is the p99.
    asyncio's own loop accepts up to the backlog at once. For each server:

    * p50, p99, p99.9 and max latency from wrk (`--timeout 30s`: with wrk's default
      of 2 s the slowest requests are dropped as "timeouts" and never reach the
      percentiles);
    * server CPU per request (utime+stime from /proc/PID/stat);
    * the peak length of the listening socket's accept queue during the run
      (/proc/net/tcp, sampled every 20 ms).

    Servers, each pinned to core 0, one wrk at a time pinned to core 1:

    * bare        the baseline: bench/bare_app.py on uvicorn with uvloop and httptools;
    * uvloop      ProdLens (`prodlens.app:serve_app`) on uvicorn with uvloop, otherwise
                  the options `prodlens serve` passes, i.e. how `serve` ran before;
    * serve       `prodlens serve --workers 1` with PRODLENS_SERVER__EVENT_LOOP=asyncio
                  (httptools with the header timeout).

    ProdLens with its defaults (INFO access lines, to /dev/null; rate limits on, which
    /health is not under). One warm-up round, then ROUNDS rounds of bare/target pairs
    (A B A B ...); ratios are taken against the bare run just before.

Run
    .venv/bin/python bench/bench_connections.py
    BENCH_FULL=1 .venv/bin/python bench/bench_connections.py   # 10 s runs, 10 rounds

    Needs wrk (`apt-get install wrk`), taskset and two CPUs; installs nothing. The
    default size takes about two minutes.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    SERVER_CORE,
    BenchError,
    Sample,
    ServerSpec,
    bare_spec,
    check_route,
    check_tools,
    cores_busy_seconds,
    cpu_seconds,
    free_port,
    machine_lines,
    median_of,
    migrate,
    prodlens_env,
    prodlens_serve_argv,
    ratio_text,
    run_wrk,
    running,
    sample_of,
    venv_script,
    wrk_argv,
)

DURATION_S = 10 if FULL else 4
ROUNDS = 10 if FULL else 5
CONNECTIONS = 200
WRK_TIMEOUT = "30s"
SAMPLE_EVERY_S = 0.02
# p99.9 and max in microseconds, which `wrk --latency` does not print.
TAIL_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("tail p99.9 %d max %d\\n", latency:percentile(99.9), latency.max))
end
"""
# `prodlens serve` before this benchmark's change: the same options but the loop.
UVLOOP_OPTIONS = [
    "--factory",
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--no-server-header",
    "--no-proxy-headers",
    "--timeout-graceful-shutdown",
    "30",
]


@dataclass(frozen=True)
class Run:
    sample: Sample
    p999_ms: float
    max_ms: float
    accept_queue_peak: int


# --- the accept queue ----------------------------------------------------------------------


def accept_queue(port: int) -> int:
    """Connections waiting in the accept queue of the socket listening on `port`."""
    wanted = f"{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(":" + wanted) and fields[3] == "0A":  # 0A: LISTEN
            return int(fields[4].split(":")[1], 16)  # rx_queue: the accept backlog
    return 0


class QueuePeak:
    def __init__(self, port: int) -> None:
        self.port = port
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, accept_queue(self.port))

    def __enter__(self) -> QueuePeak:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- servers -------------------------------------------------------------------------------


def prodlens_spec(workdir: Path, name: str, port: int) -> ServerSpec:
    cwd = workdir / name
    cwd.mkdir()
    env = prodlens_env(cwd, "INFO")
    if name == "serve":
        argv = prodlens_serve_argv(port)
        env["PRODLENS_SERVER__EVENT_LOOP"] = "asyncio"
    else:
        app = ["prodlens.app:serve_app", "--host", HOST, "--port", str(port)]
        argv = [venv_script("uvicorn"), *app, *UVLOOP_OPTIONS]
        # `prodlens serve` migrates SQLite first; uvicorn alone does not.
        env["PRODLENS_DEMO_ON_EMPTY"] = "false"
    return ServerSpec(name, argv, env, cwd, None)


def migrate_uvloop(workdir: Path) -> None:
    """The uvloop server's database, migrated as `prodlens serve` does before serving."""
    cwd = workdir / "uvloop"
    migrate(prodlens_env(cwd, "WARNING"), cwd)


# --- one measurement -----------------------------------------------------------------------


def measure(label: str, pid: int, port: int, script: Path) -> Run:
    argv = wrk_argv(
        f"http://{HOST}:{port}/health",
        connections=CONNECTIONS,
        duration_s=DURATION_S,
        script=script,
    )
    argv.insert(argv.index("--latency"), f"--timeout={WRK_TIMEOUT}")
    # measure_wrk's accounting, keeping wrk's output for the tail line.
    before, cores_before = cpu_seconds(pid), cores_busy_seconds()
    with QueuePeak(port) as queue:
        output, wall, client_cpu = run_wrk(argv, DURATION_S)
    server_cpu = cpu_seconds(pid) - before
    server_core, client_core = (
        a - b for a, b in zip(cores_busy_seconds(), cores_before, strict=True)
    )
    sample = sample_of(
        label,
        output,
        wall=wall,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        server_core=server_core,
        client_core=client_core,
    )
    tail = re.search(r"tail p99\.9 (\d+) max (\d+)", output)
    if tail is None:
        raise BenchError(f"{label}: no tail line in wrk output")
    return Run(sample, int(tail[1]) / 1000, int(tail[2]) / 1000, queue.peak)


# --- report --------------------------------------------------------------------------------

TARGETS = {"uvloop": "ProdLens, uvloop (before)", "serve": "prodlens serve (now)"}
BASELINE = "bare"


def print_run(tag: str, name: str, run: Run) -> None:
    s = run.sample
    print(
        f"  {tag:>11}  {name:<7} p50 {s.p50_ms:7.1f}  p99 {s.p99_ms:7.1f}  p99.9 {run.p999_ms:7.1f}"
        f"  max {run.max_ms:7.1f} ms  {s.cpu_us_per_request:6.1f} µs/req  {s.requests_per_s:5.0f}"
        f" req/s  queue peak {run.accept_queue_peak:3d}  busy {s.server_busy:4.0%}"
        f"  other {s.server_core_other:3.0%}/{s.client_core_other:3.0%}",
        flush=True,
    )


def print_table(runs: dict[str, list[Run]], ratios: dict[str, dict[str, list[float]]]) -> None:
    header = (
        f"{'server':<28} {'p50 ms':>7} {'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8} "
        f"{'queue':>5} {'µs/req':>7} {'req/s':>6}  {'p99 / bare':<19} {'CPU/req / bare':<19}"
    )
    print(header)
    print("-" * len(header))
    for name, label in [(BASELINE, "bare Starlette, uvloop"), *TARGETS.items()]:
        samples = [run.sample for run in runs[name]]
        print(
            f"{label:<28} {median_of(samples, 'p50_ms'):7.1f} {median_of(samples, 'p99_ms'):8.1f} "
            f"{statistics.median(r.p999_ms for r in runs[name]):9.1f} "
            f"{statistics.median(r.max_ms for r in runs[name]):8.1f} "
            f"{statistics.median(r.accept_queue_peak for r in runs[name]):5.0f} "
            f"{median_of(samples, 'cpu_us_per_request'):7.1f} "
            f"{median_of(samples, 'requests_per_s'):6.0f}  "
            f"{ratio_text(ratios.get(name, {}).get('p99', [])):<19} "
            f"{ratio_text(ratios.get(name, {}).get('cpu', [])):<19}"
        )
    print(
        f"(medians over {ROUNDS} rounds; {CONNECTIONS} connections opened at the start of each "
        f"{DURATION_S} s run; queue = peak accept-queue length; ratios against the bare run "
        "just before)"
    )
    others = [
        max(run.sample.server_core_other, run.sample.client_core_other)
        for name_runs in runs.values()
        for run in name_runs
    ]
    print(
        f"noise check: cores {SERVER_CORE}/{CLIENT_CORE} busy with anything but the benchmark: "
        f"median {statistics.median(others):.0%}, max {max(others):.0%} (the finding shows on a "
        "loaded machine; on an idle one the queue empties faster)."
    )


def main() -> int:
    check_tools()
    print("Latency at 200 keep-alive connections opened at once (accept rate of the event loop)")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up, "
        f"wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s --timeout {WRK_TIMEOUT}, server on core "
        f"{SERVER_CORE}, wrk on core {CLIENT_CORE}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="prodlens-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        script = workdir / "tail.lua"
        script.write_text(TAIL_SCRIPT)
        ports = {name: free_port() for name in (BASELINE, *TARGETS)}
        specs = [bare_spec(workdir, ports[BASELINE])]
        specs += [prodlens_spec(workdir, name, ports[name]) for name in TARGETS]
        migrate_uvloop(workdir)
        servers: dict[str, tuple[int, int]] = {}
        for spec in specs:
            servers[spec.name] = (
                stack.enter_context(running(spec, ports[spec.name])),
                ports[spec.name],
            )
            check_route(ports[spec.name], "/health")
        runs: dict[str, list[Run]] = {name: [] for name in servers}
        ratios: dict[str, dict[str, list[float]]] = {
            name: {"p99": [], "cpu": []} for name in TARGETS
        }
        for round_no in range(ROUNDS + 1):
            tag = "warm-up" if round_no == 0 else f"round {round_no}/{ROUNDS}"
            for name in TARGETS:
                base = measure(BASELINE, *servers[BASELINE], script)
                run = measure(name, *servers[name], script)
                print_run(tag, BASELINE, base)
                print_run(tag, name, run)
                if round_no:
                    runs[BASELINE].append(base)
                    runs[name].append(run)
                    ratios[name]["p99"].append(run.sample.p99_ms / base.sample.p99_ms)
                    ratios[name]["cpu"].append(
                        run.sample.cpu_us_per_request / base.sample.cpu_us_per_request
                    )
    print()
    print_table(runs, ratios)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench_connections: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench_connections: interrupted")
