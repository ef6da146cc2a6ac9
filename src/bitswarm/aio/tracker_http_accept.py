"""The HTTP tracker's listening sockets: one-shot announces answered without a transport.

Why not ``loop.create_server``: most clients announce on a new connection
that carries one request and says ``Connection: close``. For such a
connection the event loop's machinery (a transport, its protocol, a
registration with the poller, an idle timer, the close callbacks) costs
more than the announce itself. So :class:`HttpListener` accepts the
connections itself, up to :data:`ACCEPTS_PER_WAKE` each time a listening
socket is readable, and reads what each has already sent. When that is one
whole request head that asks to close, and the lean front
(:class:`~bitswarm.aio.tracker_http_lean.LeanHttpServer`) answers it at once,
the reply is sent and the socket closed right there: four system calls and
the tracker's own work.

On Linux the listening sockets defer accepting (``TCP_DEFER_ACCEPT``) until
a connection's first bytes have come: without that, a client's request
would often come a moment after the accept, and its connection take the
slow path below. A connection that sends nothing costs no file descriptor
until the kernel gives up waiting (:data:`DEFER_SECONDS`).

Every other connection is adopted by the event loop with a
:class:`~bitswarm.aio.tracker_http_lean.LeanHttpProtocol`, which is given the
bytes already read before anything that came later: a kept-alive one, one
whose request has not arrived yet or is longer than the first read, one
that aiohttp must serve, one with a malformed head (its refusal lingers
there), and one whose reply did not fit the socket's send buffer (the rest
is written, then it closes). The connection bounds of
:class:`~bitswarm.aio.tracker_http_limits.ConnectionLimits` count a
connection from its accept to its close, the protocol taking the count over
from the listener: a connection over them gets the ``503`` as it is
accepted (after its request, if that has come, is read, so that the close
is no reset that would lose the answer).

Accepting stops for :data:`ACCEPT_RETRY_SECONDS` when the process is out of
file descriptors or memory, as asyncio's own servers do, so a full table
does not spin the loop.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Sequence

from bitswarm.aio.tracker_http_lean import (
    LeanHttpProtocol,
    LeanHttpServer,
    client_ip,
    response,
)
from bitswarm.aio.tracker_http_limits import REFUSAL
from bitswarm.core.tracker.http_head import MAX_HEAD_BYTES, HeadError, parse_head

log = logging.getLogger(__name__)

ACCEPTS_PER_WAKE = 64
"""Connections accepted before the event loop gets its turn back (UDP shares it)."""

ACCEPT_RETRY_SECONDS = 1.0
"""Pause in accepting after the process ran out of file descriptors or memory."""

BACKLOG = 1024
"""Connections the kernel queues for accepting (capped by ``net.core.somaxconn``)."""

DEFER_SECONDS = 1
"""``TCP_DEFER_ACCEPT``: the kernel hands over a connection once its request has come
(or after about this long without one), so that accepting finds the request there."""

FIRST_READ = MAX_HEAD_BYTES + 1024
"""Bytes read from a new connection: a whole head and then some, so that a request
answered at once leaves nothing unread that would turn its close into a reset."""

_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_DONT_WAIT = socket.MSG_DONTWAIT


class HttpListener:
    """Accepts on bound listening sockets for ``server`` until :meth:`close`."""

    def __init__(self, server: LeanHttpServer, sockets: Sequence[socket.socket]) -> None:
        self.server = server
        self.sockets = tuple(sockets)
        self._loop = asyncio.get_running_loop()
        self._adopting: set[asyncio.Task[None]] = set()
        self._unadopted: dict[_socket.socket, str] = {}
        """Connections whose adoption has not started, and their hosts: closed (and
        released) here if it never does."""
        self._closed = False
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept, sock)
        self._family = {sock: int(sock.family) for sock in self.sockets}

    @classmethod
    async def bind(
        cls, server: LeanHttpServer, host: str, port: int, *, reuse_port: bool = False
    ) -> HttpListener:
        """Listen on every address ``host`` resolves to (as ``loop.create_server`` does;
        ``""`` is every interface)."""
        found = await asyncio.get_running_loop().getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        sockets: list[socket.socket] = []
        try:
            for family, kind, protocol, _, address in dict.fromkeys(found):
                sock = socket.socket(family, kind, protocol)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:  # the IPv4 socket, if any, takes IPv4
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as error:  # the words of loop.create_server, with the address
                    reason = (error.strerror or str(error)).lower()
                    message = f"error while attempting to bind on address {address!r}: {reason}"
                    raise OSError(error.errno, message) from None
                if hasattr(socket, "TCP_DEFER_ACCEPT"):  # Linux
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, DEFER_SECONDS)
                sock.listen(BACKLOG)
                sock.setblocking(False)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return cls(server, sockets)

    @property
    def address(self) -> tuple[str, int]:
        """The first bound address (useful with port 0)."""
        name = self.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    def close(self) -> None:
        """Stop accepting; connections not yet adopted are closed."""
        if self._closed:
            return
        self._closed = True
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in self._adopting:
            task.cancel()
        for connection, host in self._unadopted.items():
            self._closed_here(connection, host)
        self._unadopted.clear()

    def _accept(self, sock: socket.socket) -> None:
        family = self._family[sock]
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                # The C accept and a C socket object: ``socket.accept`` would add a Python
                # wrapper and two enum conversions, a tenth of a one-shot announce's cost.
                descriptor, address = sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _OUT_OF_RESOURCES:
                    log.warning(
                        "HTTP tracker paused accepting for %ss: %s", ACCEPT_RETRY_SECONDS, error
                    )
                    self._loop.remove_reader(sock.fileno())
                    self._loop.call_later(ACCEPT_RETRY_SECONDS, self._resume, sock)
                    return
                continue  # a connection reset before it was accepted (ECONNABORTED)
            self._serve(_socket.socket(family, socket.SOCK_STREAM, 0, descriptor), str(address[0]))

    def _resume(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:  # not closed meanwhile
            self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _serve(self, connection: _socket.socket, host: str) -> None:
        """Answer a one-shot request here and close, or hand the connection to the loop.

        The connection is counted from here on: released once it is closed here, or
        by the adopting protocol when it closes."""
        limits = self.server.limits
        if not limits.admit(host):
            with contextlib.suppress(OSError):  # read what came, or closing would reset
                connection.recv(FIRST_READ, _DONT_WAIT)
            _send_now(connection, REFUSAL)
            connection.close()
            return
        try:
            try:
                first: bytes | None = connection.recv(FIRST_READ, _DONT_WAIT)
            except BlockingIOError:
                first = None  # the request is still on its way
            except OSError:
                first = b""  # reset: as good as closed
            if first == b"":
                self._closed_here(connection, host)
                return
            reply = self._one_shot(first, host) if first and len(first) < FIRST_READ else None
            if reply is None:
                self._adopt(connection, host, first or b"", b"")
                return
            unsent = _send_now(connection, reply)
            if unsent:
                self._adopt(connection, host, b"", unsent)
            else:
                self._closed_here(connection, host)
        except Exception:  # our bug, not the client's doing: drop this one, go on accepting
            log.exception("HTTP tracker: a connection from %s failed", host)
            self._closed_here(connection, host)

    def _closed_here(self, connection: _socket.socket, host: str) -> None:
        connection.close()
        self.server.limits.release(host)

    def _one_shot(self, data: bytes, host: str) -> bytes | None:
        """The whole reply if ``data`` is one request answered at once that closes.

        A malformed head is left to the adopting protocol too: its refusal must
        linger (see :class:`~bitswarm.aio.tracker_http_lean.LeanHttpProtocol`)."""
        try:
            parsed = parse_head(data)
        except HeadError:
            return None
        if parsed is None:
            return None
        head, _ = parsed
        if head.keep_alive:
            return None
        body = self.server.body_for(head, host, client_ip(host))
        return None if body is None else response(body, False, head.minor_version)

    def _adopt(self, connection: _socket.socket, host: str, unread: bytes, unsent: bytes) -> None:
        """Give the connection (counted) to a protocol, with what was read of it and what of
        its reply is still to send."""
        self._unadopted[connection] = host
        protocol = LeanHttpProtocol(self.server, host, unread=unread, unsent=unsent)
        task = self._loop.create_task(self._adopted(connection, host, protocol))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _adopted(
        self, connection: _socket.socket, host: str, protocol: LeanHttpProtocol
    ) -> None:
        del self._unadopted[connection]
        adopted = socket.socket(fileno=connection.detach())  # the kind event loops take
        try:
            await self._loop.connect_accepted_socket(lambda: protocol, adopted)
        except BaseException:
            adopted.close()
            if not protocol.adopted:
                self.server.limits.release(host)
            raise


def _send_now(connection: _socket.socket, data: bytes) -> bytes:
    """Send what the socket takes without waiting; the rest (nothing if the client is gone)."""
    try:
        sent = connection.send(data, _DONT_WAIT)
    except BlockingIOError:
        sent = 0
    except OSError:
        return b""
    return data[sent:]
