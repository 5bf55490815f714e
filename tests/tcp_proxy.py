"""A local TCP proxy a test can cut, freeze and restore, to simulate a dependency outage."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port or 0, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and drop the open ones, like a crashed server."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    def freeze(self) -> None:
        """Stop forwarding bytes either way, keeping every socket open: a network that
        drops packets (a partition), where only timeouts tell a client anything."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # a frozen network completes no new handshake either
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, upstream_w}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopping mid-pipe
            await asyncio.gather(pipe(client_r, upstream_w), pipe(upstream_r, client_w))
        self._writers -= {client_w, upstream_w}
