"""HTTP layer overhead: ProdLens's middleware stack against a bare Starlette app.

What it measures
    The server CPU each request costs (utime+stime of the server process from
    /proc/PID/stat, divided by the requests wrk completed), plus requests/s and
    wrk's p50/p99 latency at 32 connections, for:

    * baseline  a bare Starlette app (bench/bare_app.py) on uvicorn with the
                options ProdLens uses (uvloop, httptools, no access log, no
                server header, no proxy headers), `GET /health`;
    * ProdLens  `prodlens serve --workers 1`, i.e. the full stack (correlation id,
                access log + metrics, security headers, GZip, maintenance check,
                body limit, error middleware, FastAPI routing and serialization)
                on `GET /health` (trivial handler) and `GET /api/v1`, with
                PRODLENS_LOG_LEVEL=WARNING (no access-log line is written) and rate
                limits off (PRODLENS_RATE_LIMITS__ENABLED=false), and
                `GET /health` with INFO logging sent to /dev/null (the default
                cost of the access-log line, console format).

    The ratio ProdLens / baseline of CPU per request is the figure to quote
    (median and min-max over rounds); see /work/shared/BENCH.md for the rules.

How
    Servers run pinned to core 0 (`taskset -c 0`), wrk pinned to core 1
    (`taskset -c 1 wrk -t1 -c32 --latency`), on free ports of 127.0.0.1 only.
    Every ProdLens server gets its own temporary directory as working directory
    (no `.env` is read), its own SQLite database and data dir. One warm-up round
    is discarded; then each round runs, for each ProdLens target, the baseline
    then the target (A B A B ...), and each ratio is taken against the baseline
    run just before it.

Run
    make bench                          # all benchmarks, small size
    .venv/bin/python bench/bench_http.py
    BENCH_FULL=1 .venv/bin/python bench/bench_http.py   # 10 s runs, 10 rounds

    Needs wrk (`apt-get install wrk`) and at least two CPUs; installs nothing.
    Default size takes about two minutes, BENCH_FULL=1 about eleven.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    NOISY,
    SATURATED,
    SERVER_CORE,
    BenchError,
    Sample,
    ServerSpec,
    bare_spec,
    check_route,
    check_tools,
    free_port,
    machine_lines,
    measure_wrk,
    median_of,
    prodlens_env,
    prodlens_serve_argv,
    ratio_text,
    running,
    wrk_argv,
)

DURATION_S = 10 if FULL else 3
ROUNDS = 10 if FULL else 5
CONNECTIONS = 32
# Below this, the baseline's rate is too close to the target's to rule out the client.
CLIENT_HEADROOM = 1.5


@dataclass(frozen=True)
class Target:
    label: str
    server: str
    path: str


BASELINE = Target("bare Starlette /health", "bare", "/health")
TARGETS = [
    Target("ProdLens /health (WARNING)", "prodlens-warning", "/health"),
    Target("ProdLens /api/v1 (WARNING)", "prodlens-warning", "/api/v1"),
    Target("ProdLens /health (INFO>/dev/null)", "prodlens-info", "/health"),
]


# --- environment ---------------------------------------------------------------------------


def describe_machine() -> list[str]:
    return [
        *machine_lines(),
        f"size     {'BENCH_FULL' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up, "
        f"wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s, server on core {SERVER_CORE}, "
        f"wrk on core {CLIENT_CORE}",
    ]


# --- servers -------------------------------------------------------------------------------


def prodlens_spec(workdir: Path, name: str, port: int, log_level: str) -> ServerSpec:
    argv = prodlens_serve_argv(port)
    cwd = workdir / name
    cwd.mkdir()
    # The INFO variant writes one access line per request; /dev/null keeps the pipe out of it.
    log = None if log_level == "INFO" else cwd / "server.log"
    env = prodlens_env(cwd, log_level)
    # The general per-client limit (100/minute) would refuse most of a run on /api/v1; this
    # benchmark measures the HTTP layer, bench_ratelimit.py the limiter.
    env["PRODLENS_RATE_LIMITS__ENABLED"] = "false"
    return ServerSpec(name, argv, env, cwd, log)


# --- one measurement -----------------------------------------------------------------------


def measure(target: Target, pid: int, port: int) -> Sample:
    argv = wrk_argv(
        f"http://{HOST}:{port}{target.path}", connections=CONNECTIONS, duration_s=DURATION_S
    )
    return measure_wrk(target.label, pid, argv, DURATION_S)


# --- the rounds ----------------------------------------------------------------------------

Results = dict[Target, list[Sample]]
Ratios = dict[Target, list[float]]


def print_pair(tag: str, target: Target, base: Sample, sample: Sample) -> None:
    ratio = sample.cpu_us_per_request / base.cpu_us_per_request
    other_server = max(base.server_core_other, sample.server_core_other)
    other_client = max(base.client_core_other, sample.client_core_other)
    print(
        f"  {tag:>11}  {target.label:<34} {sample.cpu_us_per_request:6.1f} vs "
        f"{base.cpu_us_per_request:5.1f} (x{ratio:.2f})  {sample.requests_per_s:5.0f} vs "
        f"{base.requests_per_s:5.0f}  {sample.server_busy:4.0%}/{base.server_busy:4.0%}  "
        f"{other_server:3.0%}/{other_client:3.0%}",
        flush=True,
    )


def run_rounds(servers: dict[str, tuple[int, int]]) -> tuple[Results, Ratios]:
    """Warm-up, then ROUNDS rounds of baseline/target pairs; servers maps name to (pid, port)."""
    print(
        "  per run: CPU µs/req target vs baseline (ratio), req/s target vs baseline, "
        f"server busy target/baseline, other load on core {SERVER_CORE}/core {CLIENT_CORE}"
    )
    results: Results = {target: [] for target in [BASELINE, *TARGETS]}
    ratios: Ratios = {target: [] for target in TARGETS}
    for round_no in range(ROUNDS + 1):
        warm_up = round_no == 0
        for target in TARGETS:
            base = measure(BASELINE, *servers[BASELINE.server])
            sample = measure(target, *servers[target.server])
            print_pair("warm-up" if warm_up else f"round {round_no}/{ROUNDS}", target, base, sample)
            if not warm_up:
                results[BASELINE].append(base)
                results[target].append(sample)
                ratios[target].append(sample.cpu_us_per_request / base.cpu_us_per_request)
    return results, ratios


# --- report --------------------------------------------------------------------------------


def print_table(results: Results, ratios: Ratios) -> None:
    base_cpu = median_of(results[BASELINE], "cpu_us_per_request")
    header = (
        f"{'target':<34} {'CPU µs/req':>10} {'+µs':>6}  {'ratio CPU/req (min-max)':<23} "
        f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'srv busy':>8}"
    )
    print(header)
    print("-" * len(header))
    for target, samples in results.items():
        cpu = median_of(samples, "cpu_us_per_request")
        print(
            f"{target.label:<34} {cpu:10.1f} {cpu - base_cpu:+6.1f}  "
            f"{ratio_text(ratios.get(target, [])):<23} "
            f"{median_of(samples, 'requests_per_s'):7.0f} {median_of(samples, 'p50_ms'):7.2f} "
            f"{median_of(samples, 'p99_ms'):7.2f} {median_of(samples, 'server_busy'):8.0%}"
        )
    print(
        f"(medians over {ROUNDS} rounds; ratio = target / the baseline run just before it; "
        f"+µs = median minus baseline median; {CONNECTIONS} connections)"
    )


def print_checks(results: Results) -> None:
    base = results[BASELINE]
    base_rate = median_of(base, "requests_per_s")
    fastest = max(TARGETS, key=lambda t: median_of(results[t], "requests_per_s"))
    fastest_rate = median_of(results[fastest], "requests_per_s")
    headroom = base_rate / fastest_rate
    client_busy = max(sample.client_busy for sample in base)
    verdict = (
        "the client is not the bottleneck"
        if headroom >= CLIENT_HEADROOM
        else f"WARNING: under {CLIENT_HEADROOM}x, the client may be the bottleneck"
    )
    print(
        f"client check: wrk drove the bare baseline at {base_rate:.0f} req/s, "
        f"{headroom:.1f}x the fastest ProdLens route ({fastest.label}, {fastest_rate:.0f} req/s); "
        f"wrk used at most {client_busy:.0%} of core {CLIENT_CORE}: {verdict}."
    )
    samples = [sample for samples in results.values() for sample in samples]
    worst = 0.0
    for core, field in ((SERVER_CORE, "server_core_other"), (CLIENT_CORE, "client_core_other")):
        other = [getattr(sample, field) for sample in samples]
        worst = max(worst, *other)
        print(
            f"noise check: core {core} busy with anything but the benchmark (other processes, "
            f"steal, interrupts): median {statistics.median(other):.0%}, max {max(other):.0%}."
        )
    if worst > NOISY:
        print(f"WARNING: another load took over {NOISY:.0%} of a core in some run: noisy figures.")
    idle = [t.label for t, s in results.items() if median_of(s, "server_busy") < SATURATED]
    if idle:
        print(f"WARNING: server core not saturated (<{SATURATED:.0%}) for: {', '.join(idle)}")


# --- main ----------------------------------------------------------------------------------


def start_servers(stack: contextlib.ExitStack, workdir: Path) -> dict[str, tuple[int, int]]:
    """Start the three servers (stopped when the stack closes); map name to (pid, port)."""
    ports = {name: free_port() for name in ("bare", "prodlens-warning", "prodlens-info")}
    specs = [
        bare_spec(workdir, ports["bare"]),
        prodlens_spec(workdir, "prodlens-warning", ports["prodlens-warning"], "WARNING"),
        prodlens_spec(workdir, "prodlens-info", ports["prodlens-info"], "INFO"),
    ]
    servers = {}
    for spec in specs:
        pid = stack.enter_context(running(spec, ports[spec.name]))
        servers[spec.name] = (pid, ports[spec.name])
    for target in [BASELINE, *TARGETS]:
        check_route(servers[target.server][1], target.path)
    return servers


def main() -> int:
    check_tools()
    print("HTTP layer overhead: ProdLens middleware stack vs a bare Starlette app")
    for line in describe_machine():
        print(f"  {line}")
    with (
        tempfile.TemporaryDirectory(prefix="prodlens-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        servers = start_servers(stack, Path(tmp))
        results, ratios = run_rounds(servers)
    print()
    print_table(results, ratios)
    print_checks(results)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench_http: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench_http: interrupted")
