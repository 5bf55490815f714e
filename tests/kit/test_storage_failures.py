"""SQLite's volume fills up or turns read-only: writes answer 503 (not 500), readiness
says not ready, and both recover by themselves once there is room again.

The volume is a real, small tmpfs mounted for the test, so SQLite meets the same
ENOSPC / EROFS it would on a full or remounted disk.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.analytics.helpers import AnalyticsProject, analytics_project, event
from tests.conftest import REQUIRE_SERVICES, Stack, harness_for, settings_for
from tests.harness import Harness

RECOVERY_DEADLINE = 5.0


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = f"cannot mount a test volume (needs root): {done.stderr.strip()}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs of the test's own."""
    mountpoint = tmp_path / "volume"
    mountpoint.mkdir()
    _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mountpoint))
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(volume: Path) -> Path:
    """Take every free byte of the volume; the file to remove to free them again."""
    filler = volume / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):  # then the last partial chunks
            block = b"\0" * size
            try:
                while os.write(descriptor, block):
                    pass
            except OSError:
                pass
    finally:
        os.close(descriptor)
    return filler


async def _ingest(h: Harness, project: AnalyticsProject, first: int) -> httpx.Response:
    now = datetime.now(UTC)
    batch = [event(first + n, now, attributes={"note": "x" * 2000}) for n in range(1000)]
    return await h.client.post(
        f"{project.base}/ingest/events", json=batch, headers={"X-API-Key": project.ingest_key}
    )


async def _until_ready(h: Harness) -> httpx.Response:
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while True:
        ready = await h.client.get("/health/ready")
        if ready.status_code == 200 or time.monotonic() > deadline:
            return ready
        await asyncio.sleep(0.1)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service.unavailable"
    assert int(response.headers["retry-after"]) > 0


@pytest.fixture
def stack_on(volume: Path, sqlite_template: Path) -> Stack:
    shutil.copyfile(sqlite_template, volume / "prodlens.db")
    return Stack("sqlite", f"sqlite+aiosqlite:///{volume / 'prodlens.db'}", None)


async def test_full_disk(volume: Path, stack_on: Stack) -> None:
    settings = settings_for(stack_on, volume / "var", rate_limits={"enabled": False})
    async with harness_for(settings) as h:
        project = await analytics_project(h)
        assert (await h.client.get("/health/ready")).status_code == 200

        filler = _fill(volume)
        ready = await h.client.get("/health/ready")
        assert ready.status_code == 503
        assert "full" in ready.json()["checks"]["database"]["detail"]
        _assert_unavailable(await _ingest(h, project, 0))
        reads = await h.client.get("/api/v1/projects", headers=project.owner.headers)
        assert reads.status_code == 200  # reading needs no room

        filler.unlink()
        assert (await _until_ready(h)).status_code == 200
        stored = await _ingest(h, project, 0)  # the refused batch, sent again
        assert stored.status_code == 200, stored.text
        assert stored.json()["summary"]["accepted"] == 1000


async def test_read_only_volume(volume: Path, stack_on: Stack) -> None:
    settings = settings_for(stack_on, volume / "var", rate_limits={"enabled": False})
    async with harness_for(settings) as h:
        project = await analytics_project(h)

        # A volume with files open for writing cannot be remounted read-only; the next
        # connection opens on the read-only volume, as after a remount on disk errors.
        await h.app.state.database.engine.dispose()
        _mount("-o", "remount,ro", str(volume))
        ready = await h.client.get("/health/ready")
        assert ready.status_code == 503
        assert "read-only" in ready.json()["checks"]["database"]["detail"]
        _assert_unavailable(await _ingest(h, project, 0))

        _mount("-o", "remount,rw", str(volume))
        assert (await _until_ready(h)).status_code == 200
        stored = await _ingest(h, project, 0)
        assert stored.status_code == 200, stored.text
        assert stored.json()["summary"]["accepted"] == 1000


def test_serve_on_a_read_only_volume_says_why(volume: Path) -> None:
    _mount("-o", "remount,ro", str(volume))
    environment = {
        **os.environ,
        "PRODLENS_DATA_DIR": str(volume / "var"),
        "PRODLENS_DATABASE_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "prodlens", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Read-only file system" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) <= 3
