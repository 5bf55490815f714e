"""The outage probe at shutdown: a probe in flight is let finish, an idle one just ends.

A database call cancelled mid-way goes on in its driver's thread (aiosqlite) and later
answers an event loop that has closed: an exception in that thread, after the app is gone.
"""

from __future__ import annotations

import asyncio

from prodlens.kit.availability import Outage

DEADLINE_S = 30


async def test_stopping_lets_a_probe_in_flight_finish() -> None:
    in_flight = asyncio.Event()
    release = asyncio.Event()
    finished: list[bool] = []

    async def probe() -> None:
        in_flight.set()
        await release.wait()  # the driver's call, still running
        finished.append(True)
        raise ConnectionRefusedError("still down")

    outage = Outage("sqlite", probe, retry_after=5)
    outage.open("test")
    await asyncio.wait_for(in_flight.wait(), DEADLINE_S)
    stopping = asyncio.create_task(outage.stop())
    await asyncio.sleep(0)  # let stop() begin waiting for the probe
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, DEADLINE_S)
    assert finished == [True]


async def test_stopping_between_probes_starts_no_other() -> None:
    calls = 0

    async def probe() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("still down")

    outage = Outage("sqlite", probe, retry_after=5)
    outage.open("test")
    await asyncio.wait_for(outage.stop(), DEADLINE_S)
    assert calls == 0


async def test_an_error_after_stopping_starts_no_probe() -> None:
    """A request failing while the app shuts down leaves no probe behind, pending."""

    async def probe() -> None:
        raise AssertionError("no probe after stop")

    outage = Outage("sqlite", probe, retry_after=5)
    await outage.stop()
    outage.open("while shutting down")
    assert not outage.is_open
