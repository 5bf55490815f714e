"""Start-up cost of the `prodlens` command against `python -c pass`, one core.

What it measures
    * baseline  `python -c pass` with the project's interpreter: what any Python start
                costs on this machine at this moment.
    * CLI       `prodlens --help`, `prodlens version` and `prodlens --version`: CPU
                (utime+stime from the waited child's rusage) and wall time, each a
                fresh process.
    * serve     `prodlens serve --workers 1` on a throwaway SQLite database (migrated
                by the warm-up round, so each measured start finds it at head; the demo
                off; WARNING logging): wall time from spawn until `GET /health` first
                answers 200, and the server's CPU at that moment (utime+stime of all
                its threads, from /proc/PID/stat). A client in this process polls every
                10 ms.

    * no bytecode  `prodlens --help` and `serve` once more, with PYTHONPYCACHEPREFIX
                pointing at an empty directory and PYTHONDONTWRITEBYTECODE=1: no
                bytecode is found and none is written, so every module is compiled from
                source, as on a fresh clone before `make install` compiled it.
    * phases    a diagnostic, not a paired figure: one process takes the server's own
                start-up steps in order (CLI import, settings, logging, migrations at
                head, `import prodlens.app`, uvicorn, create_app, the lifespan) and
                reports the CPU of each, and whether the app import loaded SciPy,
                NumPy or PyArrow.

    Every command runs pinned to core 0 (taskset), this process to core 1. Each round
    runs all seven, the order rotated from round to round; ratios to the baseline are
    taken within a round and reported as median (min-max); one warm-up round is
    discarded. See /work/shared/BENCH.md for the rules. The targets: `--help`,
    `version` and `--version` within 0.5 s of CPU; `serve` answering /health within
    2 s and 1.5 s of CPU on an idle machine.

    Bytecode matters here: with PYTHONDONTWRITEBYTECODE set and nothing compiled,
    every start recompiles what it imports. The header says whether src/ was compiled
    (`make install` does it).

Run
    make bench                          # all benchmarks, small size
    .venv/bin/python bench/bench_startup.py
    BENCH_FULL=1 .venv/bin/python bench/bench_startup.py  # 15 rounds

    Needs taskset and two CPUs; installs nothing; only 127.0.0.1 traffic. The default
    size takes well under a minute on an idle machine.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _common import (
    CLIENT_CORE,
    FULL,
    HOST,
    PROJECT_DIR,
    SERVER_CORE,
    BenchError,
    children_cpu_seconds,
    cores_busy_seconds,
    cpu_seconds,
    free_port,
    machine_lines,
    pinned,
    prodlens_env,
    prodlens_serve_argv,
    prog,
    ratio_text,
    stop_server,
    venv_script,
)

ROUNDS = 15 if FULL else 5
READY_DEADLINE_S = 120.0
POLL_S = 0.01
CLI_CPU_TARGET_S = 0.5
SERVE_WALL_TARGET_S = 2.0
SERVE_CPU_TARGET_S = 1.5


@dataclass(frozen=True)
class Run:
    cpu_s: float
    wall_s: float


def without_bytecode(env: dict[str, str], workdir: Path) -> dict[str, str]:
    """`env` for a process that finds no bytecode at all and writes none: every module it
    imports is compiled from source, as on a fresh clone run with PYTHONDONTWRITEBYTECODE."""
    empty = workdir / "no-bytecode"
    empty.mkdir(exist_ok=True)
    return {**env, "PYTHONPYCACHEPREFIX": str(empty), "PYTHONDONTWRITEBYTECODE": "1"}


def run_command(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """One pinned process to completion: its CPU from rusage, the wall time around it."""
    before, started = children_cpu_seconds(), time.monotonic()
    result = subprocess.run(
        pinned(argv, SERVER_CORE),
        capture_output=True,
        env=env,
        timeout=READY_DEADLINE_S,
        check=False,
    )
    wall, cpu = time.monotonic() - started, children_cpu_seconds() - before
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr!r}")
    return Run(cpu, wall)


def health_answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def run_serve(workdir: Path, *, bytecode: bool = True) -> Run:
    """Spawn `prodlens serve`, wait for /health, take its CPU, stop it."""
    env = prodlens_env(workdir, "WARNING")
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            pinned(prodlens_serve_argv(port), SERVER_CORE),
            cwd=workdir,
            env=env if bytecode else without_bytecode(env, workdir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not health_answers(port):
            if proc.poll() is not None:
                raise BenchError(f"serve exited {proc.returncode}:\n{log.read_text()[-2000:]}")
            if time.monotonic() - started > READY_DEADLINE_S:
                raise BenchError(f"serve not ready after {READY_DEADLINE_S:g} s")
            time.sleep(POLL_S)
        wall = time.monotonic() - started
        return Run(cpu_seconds(proc.pid), wall)
    finally:
        stop_server(proc)


def bytecode_line() -> str:
    """How many modules under src/ have bytecode at least as new as their source."""
    sources = sorted((PROJECT_DIR / "src").rglob("*.py"))
    fresh = 0
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        with contextlib.suppress(OSError):
            fresh += cached.stat().st_mtime >= source.stat().st_mtime
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset"
    return (
        f"bytecode src/: {fresh} of {len(sources)} modules compiled and up to date; "
        f"PYTHONDONTWRITEBYTECODE={flag}"
    )


# Where one `serve` start goes, phase by phase, in one process (the server's own steps, in
# its order, without uvicorn's socket): a diagnostic next to the paired figures.
PHASES = """
import json, resource, sys
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
marks = [("interpreter", cpu())]
import prodlens.cli.main
marks.append(("import prodlens.cli.main", cpu()))
from prodlens.cli.common import load_settings, run
settings = load_settings()
marks.append(("settings", cpu()))
from prodlens.observability.logging import configure_logging
configure_logging(settings)
marks.append(("logging", cpu()))
from prodlens.kit.migrations import upgrade
upgrade(settings.database_url)
marks.append(("migrations (import alembic, at head)", cpu()))
import prodlens.app
marks.append(("import prodlens.app", cpu()))
heavy = [name for name in ("scipy", "numpy", "pyarrow") if name in sys.modules]
import uvicorn
marks.append(("import uvicorn", cpu()))
app = prodlens.app.create_app(settings)
marks.append(("create_app", cpu()))
async def lifespan():
    async with app.router.lifespan_context(app):
        pass
run(lifespan())
marks.append(("lifespan (startup and shutdown)", cpu()))
steps = [(name, marks[i][1] - (marks[i - 1][1] if i else 0.0)) for i, (name, _) in enumerate(marks)]
print(json.dumps({"steps": steps, "heavy": heavy}))
"""


def run_phases(workdir: Path) -> tuple[list[tuple[str, float]], list[str]]:
    result = subprocess.run(
        pinned([sys.executable, "-c", PHASES], SERVER_CORE),
        cwd=workdir,
        env=prodlens_env(workdir, "WARNING"),
        capture_output=True,
        text=True,
        timeout=READY_DEADLINE_S,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"the phase probe failed:\n{result.stderr[-2000:]}")
    report = json.loads(result.stdout.splitlines()[-1])
    return [(name, float(seconds)) for name, seconds in report["steps"]], list(report["heavy"])


def main() -> None:
    if shutil.which("taskset") is None:
        sys.exit(f"{prog()}: `taskset` not found (package util-linux).")
    if not {SERVER_CORE, CLIENT_CORE} <= os.sched_getaffinity(0):
        sys.exit(f"{prog()}: needs CPUs {SERVER_CORE} and {CLIENT_CORE}")
    os.sched_setaffinity(0, {CLIENT_CORE})
    python, prodlens = sys.executable, venv_script("prodlens")
    no_bytecode_help = [prodlens, "--help"]
    # name, its short label in the per-round lines, how to measure it once
    table: list[tuple[str, str, Callable[[Path], Run]]] = [
        ("python -c pass", "pass", lambda _: run_command([python, "-c", "pass"])),
        ("prodlens --help", "--help", lambda _: run_command([prodlens, "--help"])),
        ("prodlens version", "version", lambda _: run_command([prodlens, "version"])),
        ("prodlens --version", "--version", lambda _: run_command([prodlens, "--version"])),
        ("prodlens serve → /health", "serve", run_serve),
        (
            "  --help, no bytecode",
            "--help/nobc",
            lambda wd: run_command(no_bytecode_help, without_bytecode(dict(os.environ), wd)),
        ),
        ("  serve, no bytecode", "serve/nobc", lambda wd: run_serve(wd, bytecode=False)),
    ]
    cases = {name: measure for name, _, measure in table}
    short = {name: label for name, label, _ in table}
    names = list(cases)
    baseline = names[0]

    print("Start-up: the prodlens command and the server against `python -c pass`, one core")
    for line in machine_lines():
        print(f"  {line}")
    print(f"  size     {'full' if FULL else 'default'}: {ROUNDS} rounds + 1 warm-up")
    print(f"  {bytecode_line()}")
    print(f"  serve    {' '.join(prodlens_serve_argv(0)[1:-1])} PORT, SQLite at head, demo off")
    print("  per round: CPU s / wall s of each, in the order run")

    runs: dict[str, list[Run]] = {name: [] for name in names}
    others: list[float] = []  # core 0 busy with anything but our commands, share of wall
    phases: list[list[tuple[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        workdir = Path(tmp)
        for round_number in range(ROUNDS + 1):
            shift = round_number % len(names)
            order = names[shift:] + names[:shift]
            core_before, ours_before = cores_busy_seconds()[0], children_cpu_seconds()
            started = time.monotonic()
            results = {name: cases[name](workdir) for name in order}
            wall = time.monotonic() - started
            # Every child has been waited for (the server too), so this is all of ours.
            ours = children_cpu_seconds() - ours_before
            other = max(cores_busy_seconds()[0] - core_before - ours, 0.0) / wall
            steps, heavy = run_phases(workdir)
            label = "warm-up" if round_number == 0 else f"round {round_number}/{ROUNDS}"
            cells = "  ".join(
                f"{short[name]} {results[name].cpu_s:.3f}/{results[name].wall_s:.2f}"
                for name in order
            )
            print(f"  {label:>11}  {cells}  | other load on core 0 {other:.0%}", flush=True)
            if round_number == 0:
                continue
            others.append(other)
            phases.append(steps)
            for name in names:
                runs[name].append(results[name])

    print()
    print(f"{'':28} {'CPU s':>7} {'min-max':>13} {'wall s':>7} {'min-max':>13}  CPU ÷ pass")
    for name in names:
        cpus = [run.cpu_s for run in runs[name]]
        walls = [run.wall_s for run in runs[name]]
        ratios = [
            run.cpu_s / base.cpu_s for run, base in zip(runs[name], runs[baseline], strict=True)
        ]
        print(
            f"{name:28} {statistics.median(cpus):7.3f} {min(cpus):6.3f}-{max(cpus):6.3f} "
            f"{statistics.median(walls):7.2f} {min(walls):6.2f}-{max(walls):6.2f}  "
            f"{ratio_text([] if name == baseline else ratios)}"
        )
    print(f"(medians over {ROUNDS} rounds; ratios taken within each round)")
    serve = names[4]
    targets = [(name, "cpu_s", CLI_CPU_TARGET_S) for name in names[1:4]]
    targets += [(serve, "wall_s", SERVE_WALL_TARGET_S), (serve, "cpu_s", SERVE_CPU_TARGET_S)]
    for name, field, target in targets:
        median = statistics.median(getattr(run, field) for run in runs[name])
        what = "CPU" if field == "cpu_s" else "wall"
        verdict = "met" if median <= target else "MISSED"
        print(f"target {name:26} {what:4} <= {target:g} s: median {median:.3f} s, {verdict}")
    print()
    print("serve start-up by phase, in one process (CPU s, median over the rounds; diagnostic)")
    for index, (name, _) in enumerate(phases[0]):
        values = [steps[index][1] for steps in phases]
        print(f"  {name:40} {statistics.median(values):6.3f} ({min(values):.3f}-{max(values):.3f})")
    total = [sum(seconds for _, seconds in steps) for steps in phases]
    print(f"  {'total':40} {statistics.median(total):6.3f}")
    print(
        f"  loaded by `import prodlens.app`: {', '.join(heavy) or 'none of scipy, numpy, pyarrow'}"
    )
    noise = statistics.median(others)
    print(
        f"noise check: core 0 busy with anything but these commands: median {noise:.0%}, "
        f"max {max(others):.0%}."
    )
    if max(others) > 0.1:
        print(
            "WARNING: another load took over 10% of core 0 in some round: the targets are "
            "for an idle machine, quote the ratios."
        )


if __name__ == "__main__":
    main()
