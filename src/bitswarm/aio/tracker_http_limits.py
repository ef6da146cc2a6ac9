"""How many HTTP connections one tracker process keeps open: in total and per client address.

A flood of connections from one address must not use up the process's file
descriptors or memory and shut out everyone else. The HTTP listener
(:mod:`.tracker_http_accept`) asks :class:`ConnectionLimits` as it accepts a
connection: over either bound, the client gets a short ``503`` (with
``Retry-After``) and the connection closes before its request is answered.
The count follows a connection for its whole life, through the lean front
(:mod:`.tracker_http_lean`) and once it is handed over to aiohttp (through
:class:`CountedProtocol`), and a connection leaves it when it closes, by
either side.

Defaults: :data:`MAX_CONNECTIONS` in total, never more than the open-file
limit leaves room for, and :data:`MAX_PER_ADDRESS` per address. A tracker
client keeps one keep-alive connection per tracker, so 64 leaves room for a
few dozen busy clients behind one NAT address (and for the 32 connections of
``bench/tracker.py``). Behind a reverse proxy every connection comes from the
proxy, so by default there is no per-address bound then; the total still
holds. The cost is two dictionary operations per connection, none per request.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import cast

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 8192
"""Open HTTP connections one tracker process keeps, at most, by default."""

MAX_PER_ADDRESS = 64
"""Open HTTP connections from one client address, at most, by default."""

RESERVED_FILES = 64
"""File descriptors kept free of connections: the UDP socket, the store, logs."""

REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 21\r\nRetry-After: 30\r\nConnection: close\r\n\r\n"
    b"too many connections\n"
)
"""What a connection over the bounds is told before it is closed."""


def open_file_room() -> int | None:
    """Connections the open-file limit (``ulimit -n``) leaves room for, or ``None`` if unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else max(1, soft - RESERVED_FILES)


class ConnectionLimits:
    """Counts open connections; ``per_address`` 0 means no bound per address."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_address: int = MAX_PER_ADDRESS) -> None:
        if total < 1 or per_address < 0:
            raise ValueError(f"connection limits must be positive, not {total} and {per_address}")
        room = open_file_room()
        if room is not None and total > room:
            log.info("at most %d HTTP connections: the open-file limit allows no more", room)
            total = room
        self.total = total
        self.per_address = per_address
        self.open = 0
        self._by_address: dict[str | None, int] = {}

    def admit(self, address: str | None) -> bool:
        """Count a new connection from ``address`` if both bounds allow it; whether they did."""
        if self.open >= self.total:
            return False
        count = self._by_address.get(address, 0)
        if self.per_address and count >= self.per_address:
            return False
        self._by_address[address] = count + 1
        self.open += 1
        return True

    def release(self, address: str | None) -> None:
        """A connection :meth:`admit` counted has closed."""
        self.open -= 1
        count = self._by_address.pop(address) - 1
        if count:
            self._by_address[address] = count

    def from_address(self, address: str | None) -> int:
        return self._by_address.get(address, 0)


class CountedProtocol(asyncio.Protocol):
    """Passes everything to ``inner`` (aiohttp's protocol) and releases the count at the end."""

    __slots__ = ("_address", "_inner", "_limits")

    def __init__(
        self, inner: asyncio.BaseProtocol, limits: ConnectionLimits, address: str | None
    ) -> None:
        self._inner = cast(asyncio.Protocol, inner)
        self._limits = limits
        self._address = address

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._limits.release(self._address)
        self._inner.connection_lost(exc)
