"""Rate-limit cost: a trivial API route unlimited, limited in memory, limited in Redis.

What it measures
    The server CPU each request costs (utime+stime of the server process from
    /proc/PID/stat, divided by the requests wrk completed), requests/s and wrk's
    p50/p99 latency at 32 connections on `GET /api/v1/config` (a trivial route under
    /api/v1, so the general per-client limit applies to it), for three
    `prodlens serve --workers 1` servers that differ only in the limiter:

    * unlimited  PRODLENS_RATE_LIMITS__ENABLED=false (the baseline);
    * memory     limits on, no REDIS_URL: counters in the worker's memory;
    * redis      limits on, REDIS_URL=redis://127.0.0.1:6379/0 with a key prefix of
                 this run's own (deleted at the end).

    The general limit is PRODLENS_RATE_LIMITS__GENERAL="100000000/minute", so no
    request is refused: what is measured is the cost of counting. All requests come
    from 127.0.0.1 without a token, so they share one counter. The figures to quote
    are the ratios memory/unlimited and redis/unlimited of CPU per request (median
    and min-max over rounds). Redis-server's own CPU is outside the measured process:
    its utime+stime delta (pid from `INFO server`, read from /proc) and the commands
    it processed (`INFO stats`) are reported per request next to it, and during the
    other two variants as the background level (other clients of the same Redis).

How
    Servers pinned to core 0, `taskset -c 1 wrk -t1 -c32 --latency` on core 1,
    free ports of 127.0.0.1 only; each server has its own temporary working
    directory (no `.env` is read), SQLite database and data dir, WARNING logging.
    redis-server is not ours: it is not pinned and shares the machine's cores. One
    warm-up round is discarded; then each round runs unlimited, memory, redis
    (a b c a b c ...), and each ratio is taken against the unlimited run of the
    same round. After the rounds, one run against the bare Starlette app of
    bench_http.py checks that wrk is not the bottleneck. See /work/shared/BENCH.md
    for the rules.

Run
    make bench                          # all benchmarks, small size
    .venv/bin/python bench/bench_ratelimit.py
    BENCH_FULL=1 .venv/bin/python bench/bench_ratelimit.py   # 10 s runs, 10 rounds

    Needs wrk, at least two CPUs and a Redis on 127.0.0.1:6379 (without it the
    redis variant is skipped); installs nothing. Default size takes about a minute,
    BENCH_FULL=1 about six.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
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
    check_tools,
    cpu_seconds,
    free_port,
    http_request,
    machine_lines,
    measure_wrk,
    median_of,
    prodlens_env,
    prodlens_serve_argv,
    ratio_text,
    running,
    source_fingerprint,
    wrk_argv,
)

DURATION_S = 10 if FULL else 3
ROUNDS = 10 if FULL else 5
CONNECTIONS = 32
PATH = "/api/v1/config"
GENERAL_LIMIT = "100000000/minute"
# Below this, the bare app's rate is too close to the route's to rule out the client.
CLIENT_HEADROOM = 1.5
REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_PREFIX = f"prodlens-bench-{uuid.uuid4().hex[:12]}:"


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Variant:
    name: str
    label: str
    settings: dict[str, str]


UNLIMITED = Variant(
    "unlimited", "unlimited (limits off)", {"PRODLENS_RATE_LIMITS__ENABLED": "false"}
)
MEMORY = Variant("memory", "limited, memory", {"PRODLENS_RATE_LIMITS__ENABLED": "true"})
REDIS = Variant(
    "redis",
    "limited, Redis",
    {
        "PRODLENS_RATE_LIMITS__ENABLED": "true",
        "REDIS_URL": REDIS_URL,
        "PRODLENS_REDIS__KEY_PREFIX": KEY_PREFIX,
    },
)


@dataclass(frozen=True)
class Running:
    pid: int
    port: int


@dataclass(frozen=True)
class Measured:
    sample: Sample
    redis_cpu_s: float | None  # redis-server utime+stime during the run
    redis_commands: int | None  # commands redis-server processed during the run

    @property
    def redis_us_per_request(self) -> float | None:
        if self.redis_cpu_s is None:
            return None
        return self.redis_cpu_s / self.sample.requests * 1e6

    @property
    def redis_commands_per_request(self) -> float | None:
        if self.redis_commands is None:
            return None
        return self.redis_commands / self.sample.requests


Results = dict[Variant, list[Measured]]


# --- Redis ---------------------------------------------------------------------------------


def redis_client() -> redis.Redis | None:
    """A client of the local Redis, or None when none answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        return None
    return client


@dataclass(frozen=True)
class RedisWatch:
    """redis-server's CPU (when its /proc entry is readable) and command count."""

    client: redis.Redis
    pid: int | None

    def snapshot(self) -> tuple[float | None, int | None]:
        cpu = None
        if self.pid is not None:
            with contextlib.suppress(OSError):
                cpu = cpu_seconds(self.pid)
        commands = None
        with contextlib.suppress(redis.RedisError, KeyError, ValueError):
            commands = int(self.client.info("stats")["total_commands_processed"])
        return cpu, commands


def redis_pid(client: redis.Redis) -> int | None:
    """redis-server's pid, when its /proc entry is readable from here."""
    try:
        pid = int(client.info("server")["process_id"])
        cpu_seconds(pid)
    except (redis.RedisError, KeyError, ValueError, OSError):
        return None
    return pid


def our_keys(client: redis.Redis) -> list[bytes]:
    return list(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))


def delete_our_keys(client: redis.Redis) -> int:
    keys = our_keys(client)
    if keys:
        client.delete(*keys)
    return len(keys)


# --- servers -------------------------------------------------------------------------------


def spec_for(workdir: Path, variant: Variant, port: int) -> ServerSpec:
    cwd = workdir / variant.name
    cwd.mkdir()
    env = prodlens_env(cwd, "WARNING")
    env["PRODLENS_RATE_LIMITS__GENERAL"] = GENERAL_LIMIT
    env.update(variant.settings)
    return ServerSpec(variant.name, prodlens_serve_argv(port), env, cwd, cwd / "server.log")


def check_variant(variant: Variant, port: int) -> None:
    """The route answers 200, with rate-limit headers exactly when limits are on."""
    status, headers, body = http_request(port, PATH)
    if status != 200:
        raise BenchError(f"{variant.label}: GET {PATH} answered {status}: {body[:200]!r}")
    limit = headers.get("x-ratelimit-limit")
    expected = None if variant is UNLIMITED else GENERAL_LIMIT.split("/")[0]
    if limit != expected:
        raise BenchError(f"{variant.label}: X-RateLimit-Limit is {limit!r}, expected {expected!r}")


# --- the rounds ----------------------------------------------------------------------------


def measure(variant: Variant, server: Running, watch: RedisWatch | None) -> Measured:
    argv = wrk_argv(
        f"http://{HOST}:{server.port}{PATH}", connections=CONNECTIONS, duration_s=DURATION_S
    )
    before = watch.snapshot() if watch else (None, None)
    sample = measure_wrk(variant.label, server.pid, argv, DURATION_S)
    after = watch.snapshot() if watch else (None, None)
    cpu = None if after[0] is None or before[0] is None else after[0] - before[0]
    commands = None if after[1] is None or before[1] is None else after[1] - before[1]
    return Measured(sample, cpu, commands)


def fmt_redis(measured: Measured) -> str:
    cpu, commands = measured.redis_us_per_request, measured.redis_commands_per_request
    return (
        f"{'-' if cpu is None else f'{cpu:.1f}':>5} "
        f"{'-' if commands is None else f'{commands:.2f}':>5}"
    )


def run_rounds(
    variants: list[Variant], servers: dict[Variant, Running], watch: RedisWatch | None
) -> Results:
    print(
        "  per run: CPU µs/req (ratio to unlimited), req/s, p99 ms, server busy, "
        "redis-server CPU µs/req and commands/req, other load on core "
        f"{SERVER_CORE}/core {CLIENT_CORE}"
    )
    results: Results = {variant: [] for variant in variants}
    for round_no in range(ROUNDS + 1):
        tag = "warm-up" if round_no == 0 else f"round {round_no}/{ROUNDS}"
        base: Measured | None = None
        for variant in variants:
            measured = measure(variant, servers[variant], watch)
            sample = measured.sample
            base = base or measured
            ratio = sample.cpu_us_per_request / base.sample.cpu_us_per_request
            print(
                f"  {tag:>11}  {variant.label:<22} {sample.cpu_us_per_request:6.1f} "
                f"(x{ratio:.2f})  {sample.requests_per_s:5.0f}  {sample.p99_ms:6.2f}  "
                f"{sample.server_busy:4.0%}  {fmt_redis(measured)}  "
                f"{sample.server_core_other:3.0%}/{sample.client_core_other:3.0%}",
                flush=True,
            )
            if round_no:
                results[variant].append(measured)
    return results


# --- report --------------------------------------------------------------------------------


def per_round_ratios(results: Results, variant: Variant, field: str) -> list[float]:
    return [
        getattr(m.sample, field) / getattr(b.sample, field)
        for m, b in zip(results[variant], results[UNLIMITED], strict=True)
    ]


def print_table(results: Results) -> None:
    base_cpu = median_of([m.sample for m in results[UNLIMITED]], "cpu_us_per_request")
    header = (
        f"{'variant':<22} {'CPU µs/req':>10} {'+µs':>6}  {'CPU ratio (min-max)':<19} "
        f"{'req/s':>6}  {'req/s ratio (min-max)':<21} {'p50 ms':>6} {'p99 ms':>6} "
        f"{'srv busy':>8} {'redis µs/req':>12} {'redis cmd/req':>13}"
    )
    print(header)
    print("-" * len(header))
    for variant, measured in results.items():
        samples = [m.sample for m in measured]
        cpu = median_of(samples, "cpu_us_per_request")
        is_base = variant is UNLIMITED
        cpu_ratio = [] if is_base else per_round_ratios(results, variant, "cpu_us_per_request")
        rate_ratio = [] if is_base else per_round_ratios(results, variant, "requests_per_s")
        redis_cpu = [v for m in measured if (v := m.redis_us_per_request) is not None]
        redis_cmd = [v for m in measured if (v := m.redis_commands_per_request) is not None]
        redis_text = (f"{statistics.median(redis_cpu):12.1f}" if redis_cpu else f"{'-':>12}") + (
            f" {statistics.median(redis_cmd):13.2f}" if redis_cmd else f" {'-':>13}"
        )
        print(
            f"{variant.label:<22} {cpu:10.1f} {cpu - base_cpu:+6.1f}  "
            f"{ratio_text(cpu_ratio):<19} {median_of(samples, 'requests_per_s'):6.0f}  "
            f"{ratio_text(rate_ratio):<21} {median_of(samples, 'p50_ms'):6.2f} "
            f"{median_of(samples, 'p99_ms'):6.2f} {median_of(samples, 'server_busy'):8.0%} "
            f"{redis_text}"
        )
    print(
        f"(medians over {ROUNDS} rounds; ratios = variant / the unlimited run of the same "
        f"round; {CONNECTIONS} connections; GET {PATH}; redis µs/req and cmd/req = "
        "redis-server CPU and commands during the run / requests, including any other "
        "client's load)"
    )
    if REDIS in results:
        total = [
            (m.sample.cpu_us_per_request + (m.redis_us_per_request or 0.0))
            / b.sample.cpu_us_per_request
            for m, b in zip(results[REDIS], results[UNLIMITED], strict=True)
        ]
        print(
            "limited, Redis: (server + redis-server CPU per request) / unlimited: "
            f"{ratio_text(total)}"
        )


def print_checks(results: Results, bare: Sample) -> None:
    samples = [m.sample for measured in results.values() for m in measured]
    fastest = max(median_of([m.sample for m in results[v]], "requests_per_s") for v in results)
    headroom = bare.requests_per_s / fastest
    verdict = (
        "the client is not the bottleneck"
        if headroom >= CLIENT_HEADROOM
        else f"WARNING: under {CLIENT_HEADROOM}x, the client may be the bottleneck"
    )
    print(
        f"client check: wrk drove the bare Starlette app (one run, after the rounds) at "
        f"{bare.requests_per_s:.0f} req/s, {headroom:.1f}x the fastest variant "
        f"({fastest:.0f} req/s); wrk used at most "
        f"{max(s.client_busy for s in samples):.0%} of core {CLIENT_CORE}: {verdict}."
    )
    worst = 0.0
    for core, field in ((SERVER_CORE, "server_core_other"), (CLIENT_CORE, "client_core_other")):
        other = [getattr(s, field) for s in samples]
        worst = max(worst, *other)
        print(
            f"noise check: core {core} busy with anything but the benchmark (other processes, "
            f"redis-server, steal, interrupts): median {statistics.median(other):.0%}, "
            f"max {max(other):.0%}."
        )
    if worst > NOISY:
        print(f"WARNING: another load took over {NOISY:.0%} of a core in some run: noisy figures.")
    idle = [
        v.label
        for v, m in results.items()
        if median_of([x.sample for x in m], "server_busy") < SATURATED
    ]
    if idle:
        print(f"WARNING: server core not saturated (<{SATURATED:.0%}) for: {', '.join(idle)}")


def measure_all(
    variants: list[Variant], client: redis.Redis | None, watch: RedisWatch | None
) -> tuple[Results, Sample]:
    """Start one server per variant, check them, run the rounds, stop them.

    Also the client check: one run against the bare Starlette app of bench_http.py.
    """
    with (
        tempfile.TemporaryDirectory(prefix="prodlens-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        source = source_fingerprint()
        servers: dict[Variant, Running] = {}
        for variant in variants:
            port = free_port()
            pid = stack.enter_context(running(spec_for(Path(tmp), variant, port), port))
            servers[variant] = Running(pid, port)
        for variant, server in servers.items():
            check_variant(variant, server.port)
        if client is not None and not our_keys(client):
            raise BenchError("no key under the Redis prefix: the Redis variant does not use Redis")
        loaded = source_fingerprint()
        print(f"  source   src/ fingerprint {loaded} when the servers started")
        if loaded != source:
            print("WARNING: src/ changed while the servers started: they may run other code.")
        results = run_rounds(variants, servers, watch)
        bare_port = free_port()
        bare_pid = stack.enter_context(running(bare_spec(Path(tmp), bare_port), bare_port))
        argv = wrk_argv(
            f"http://{HOST}:{bare_port}/health", connections=CONNECTIONS, duration_s=DURATION_S
        )
        bare = measure_wrk("bare Starlette /health", bare_pid, argv, DURATION_S)
        return results, bare


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    check_tools()
    print("Rate-limit cost: GET /api/v1/config unlimited vs limited (memory, Redis)")
    for line in machine_lines():
        print(f"  {line}")
    print(
        f"  size     {'BENCH_FULL' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up, "
        f"wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s, server on core {SERVER_CORE}, wrk on core "
        f"{CLIENT_CORE}; general limit {GENERAL_LIMIT}"
    )
    client = redis_client()
    variants = [UNLIMITED, MEMORY]
    watch = None
    if client is None:
        print(f"WARNING: no Redis answers at {REDIS_URL}: the Redis variant is skipped.")
    else:
        variants.append(REDIS)
        watch = RedisWatch(client, redis_pid(client))
        print(
            f"  redis    {REDIS_URL}, key prefix {KEY_PREFIX}, redis-server pid "
            f"{watch.pid if watch.pid else 'not readable: its CPU is not reported'}"
        )
    try:
        results, bare = measure_all(variants, client, watch)
    finally:
        if client is not None:
            with contextlib.suppress(redis.RedisError):
                delete_our_keys(client)
            client.close()
    print()
    print_table(results)
    print_checks(results, bare)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench_ratelimit: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench_ratelimit: interrupted")
