"""The one TCP listener of a session: accepts peers for every torrent it serves (BEP 3).

An incoming connection does not say which torrent it wants until its
handshake's info-hash arrives, so the listener hands every accepted socket
a :class:`~bitswarm.aio.peer_connection.PeerConnection` with the session as
its router; the connection routes itself. ``host`` may be one address
(``127.0.0.1``, ``::1``) or ``None`` for every interface, IPv4 and IPv6;
port 0 picks a free port, which :attr:`Listener.port` then tells.
"""

from __future__ import annotations

import asyncio
import errno

from bitswarm.aio.peer_connection import PeerConnection, Router


class ListenError(OSError):
    """The port could not be opened; the message says which and why, in one line."""


class Listener:
    def __init__(self, server: asyncio.Server) -> None:
        self._server = server

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def listen(host: str | None, port: int, peer_id: bytes, router: Router) -> Listener:
    """Open the listening socket(s) for ``router``'s torrents."""

    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: PeerConnection(peer_id, host=None, router=router),
            host,
            port,
            reuse_address=True,
        )
    except OSError as error:
        where = f"{host or '*'}:{port}"
        if error.errno == errno.EADDRINUSE:
            raise ListenError(error.errno, f"port {port} is already in use ({where})") from error
        raise ListenError(error.errno, f"cannot listen on {where}: {error.strerror}") from error
    return Listener(server)
