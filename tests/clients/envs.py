"""Virtual environments for real client packages, built once and cached.

A test that drives a real client (LiteLLM's proxy, a generated API client, …)
needs that package, whose dependencies must not mix with ProdLens's own. Each
such environment is a venv of its own under `.cache/client-envs/<name>-<hash>`
(git-ignored), built with uv from exact requirements and reused while they do
not change. Building is serialized by a file lock, so parallel test workers
share one build.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "client-envs"
BUILD_TIMEOUT_S = 1200.0  # a cold install of a large package over a slow link
_COMPLETE = ".complete"


class ClientEnvError(RuntimeError):
    pass


def _uv() -> str:
    """The uv that `make install` bootstraps into .tools/, else one on PATH."""
    bootstrapped = REPO / ".tools" / "bin" / "uv"
    if bootstrapped.exists():
        return str(bootstrapped)
    found = shutil.which("uv")
    if found is None:
        raise ClientEnvError("uv not found: run `make install` (it bootstraps .tools/bin/uv)")
    return found


def _key(requirements: Sequence[str]) -> str:
    # The interpreter is part of the key: a venv is bound to the Python it was made with.
    canonical = "\n".join([sys.version, *sorted(requirements)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _run(command: list[str], log: Path) -> None:
    with log.open("ab") as output:
        result = subprocess.run(
            command, stdout=output, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise ClientEnvError(f"{' '.join(command)} exited with {result.returncode}:\n{tail}")


def client_env(name: str, requirements: Sequence[str]) -> Path:
    """The venv holding exactly `requirements` (pip requirement strings), built if needed."""
    target = CACHE / f"{name}-{_key(requirements)}"
    if (target / _COMPLETE).exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it right now
        if (target / _COMPLETE).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)  # a build that was interrupted
        log = CACHE / f"{target.name}.log"
        log.write_text("")
        uv = _uv()
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(target)], log)
        _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(target / "bin" / "python"),
                *requirements,
            ],
            log,
        )
        (target / _COMPLETE).write_text("\n".join(requirements) + "\n")
    return target
