"""The lean HTTP/1.1 front of the HTTP tracker: announces and scrapes without aiohttp (BEP 3, 48).

Why a second HTTP server: an announce is a few microseconds of tracker work,
and aiohttp spends several times that on its request and response objects,
routing, headers and a task per request. Trackers that serve millions of
peers answer the announce path with a minimal HTTP reader (opentracker
does), and so does this one, while aiohttp keeps everything else.

Theory of operation
-------------------
Every connection that the listener (:mod:`.tracker_http_accept`) does not
answer as it accepts it is adopted by :class:`LeanHttpProtocol`. It buffers
what arrives and reads complete request heads with
:func:`~bitswarm.core.tracker.http_head.parse_head`. A plain ``GET`` of
``/announce``, ``/scrape`` (or either with a passkey: ``/<passkey>/announce``
and ``/<passkey>/scrape``, or ``/announce/<passkey>``), with no body,
while the store answers inline (the memory store), is answered at once from
:class:`~bitswarm.aio.tracker_answers.HttpAnswers`, the same code aiohttp's
routes use (a plain ``/announce`` by its hot path first), with a fixed,
minimal response head. Pipelined requests are
answered in order, and the connection persists as HTTP/1.0 or 1.1 says.

Anything else (``/stats``, ``/metrics``, ``/admin``, another method, a body,
a store that must be awaited such as Redis) hands the connection over: its
unanswered bytes go to a fresh aiohttp protocol from the application's
``web.Server``, which serves it from then on with the complete application.
A malformed head gets a precise ``400`` (or ``431`` for an oversized head,
``505`` for another HTTP version) with the reason as text, and the connection
closes once the client has had the answer (a lingering close). Reading
pauses while the socket's send buffer is full, so a client that pipelines
without reading cannot grow the server's memory, and an idle connection
closes after :data:`KEEP_ALIVE_SECONDS`. The listener has counted every
connection in the bounds of
:class:`~bitswarm.aio.tracker_http_limits.ConnectionLimits` (in total, per
client address) and refused those over them; the protocol releases the count
when its connection closes, and the bounds go on counting a connection once
aiohttp serves it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import cast

from bitswarm.aio.tracker_answers import HttpAnswers, TrackerRequest
from bitswarm.aio.tracker_http_limits import ConnectionLimits, CountedProtocol
from bitswarm.aio.tracker_metrics import Kind
from bitswarm.core.tracker.compact import packed_ip
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.http_head import HeadError, RequestHead, parse_head

KEEP_ALIVE_SECONDS = 75.0
"""Idle seconds before a persistent connection is closed (aiohttp's default too)."""

LINGER_SECONDS = 2.0
"""Most seconds a refused connection stays open for the client to read the refusal."""

_ROUTES = (
    re.compile(rb"/(?P<kind>announce|scrape)(?:/(?P<passkey>[A-Za-z0-9_-]+))?"),
    re.compile(rb"/(?P<passkey>[A-Za-z0-9_-]+)/(?P<kind>announce|scrape)"),
)
"""The paths answered here, tried in aiohttp's order: ``/announce/<passkey>`` first."""
_KINDS: dict[bytes, Kind] = {b"announce": "announces", b"scrape": "scrapes"}
_REASONS = {
    400: "Bad Request",
    431: "Request Header Fields Too Large",
    505: "HTTP Version Not Supported",
}


class LeanHttpServer:
    """Makes the protocol of each connection and closes the open ones at shutdown."""

    def __init__(
        self,
        answers: HttpAnswers,
        fallback: Callable[[], asyncio.Protocol],
        client_address_header: str | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.answers = answers
        self.fallback = fallback
        self.header = client_address_header.lower().encode() if client_address_header else None
        self.limits = limits or ConnectionLimits()
        self.connections: set[LeanHttpProtocol] = set()
        """The connections this front serves itself (not those handed to aiohttp)."""

    def body_for(self, head: RequestHead, host: str | None, ip: bytes | None) -> bytes | None:
        """The body answering ``head`` from ``host`` (packed: ``ip``) at once, or ``None``
        if aiohttp should serve the connection from this request on."""
        answers = self.answers
        store = answers.context.immediate_store()
        if store is None:
            return None
        if ip is not None and _plain_announce(head):
            body = answers.announce_inline(head.query, ip, store)
            if body is not None:
                return body
        request = self._tracker_request(head, host)
        return None if request is None else answers.answer_now(request, store)

    def _tracker_request(self, head: RequestHead, host: str | None) -> TrackerRequest | None:
        """The announce or scrape this head asks for, or ``None`` if aiohttp should serve it."""
        route = next(filter(None, (r.fullmatch(head.path) for r in _ROUTES)), None)
        if route is None or head.method != b"GET" or head.has_body:
            return None
        passkey = route["passkey"].decode() if route["passkey"] else None
        forwarded = head.header(self.header) if self.header else None
        return TrackerRequest(
            _KINDS[route["kind"]],
            head.query,
            passkey,
            host,
            forwarded.decode("latin-1") if forwarded is not None else None,
        )

    def close_connections(self) -> None:
        for connection in list(self.connections):
            connection.close()


class LeanHttpProtocol(asyncio.Protocol):
    """One client connection, until it is handed to aiohttp or closed."""

    def __init__(
        self, server: LeanHttpServer, host: str, *, unread: bytes = b"", unsent: bytes = b""
    ) -> None:
        """A connection from ``host`` that the listener has counted in the server's limits
        (released here when it closes); ``unread``: what the listener read of it;
        ``unsent``: the rest of a reply it began to send, after which the connection closes."""
        self.server = server
        self.adopted = False
        """Whether the connection reached :meth:`connection_made`."""
        self._unread = unread
        self._unsent = unsent
        self.transport: asyncio.Transport | None = None
        self.peer_host = host
        self._ip = client_ip(host)
        """The client's packed IP, for the announce hot path."""
        self._buffer = bytearray()
        self._writable = True
        self._loop = asyncio.get_running_loop()
        self._active_at = self._loop.time()
        self._idle: asyncio.TimerHandle | None = None
        self._counted = False
        self._lingering = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.adopted = True
        self._counted = True
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)
        self._idle = self._loop.call_later(KEEP_ALIVE_SECONDS, self._close_if_idle)
        # What the listener had, before the transport delivers anything that came later.
        unread, unsent, self._unread, self._unsent = self._unread, self._unsent, b"", b""
        if unsent:
            self.transport.write(unsent)
            self.close()
        elif unread:
            self.data_received(unread)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        if self._counted:
            self._counted = False
            self.server.limits.release(self.peer_host)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        self._buffer += data
        self._active_at = self._loop.time()
        if self._writable:
            self._answer_buffered()

    def pause_writing(self) -> None:
        self._writable = False
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._writable = True
        if self.transport is not None:
            self.transport.resume_reading()
            self._answer_buffered()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self._forget()

    def _answer_buffered(self) -> None:
        """Answer every complete request in the buffer, in order, while the socket takes it."""
        transport = self.transport
        if transport is None:
            return
        start = 0
        try:
            while self._writable and not transport.is_closing():
                parsed = parse_head(self._buffer, start)
                if parsed is None:
                    break
                head, end = parsed
                body = self.server.body_for(head, self.peer_host, self._ip)
                if body is None:
                    del self._buffer[:start]
                    self._hand_off()
                    return
                keep_alive = head.keep_alive
                transport.write(response(body, keep_alive, head.minor_version))
                start = end
                if not keep_alive:
                    transport.close()
        except HeadError as error:
            transport.write(refusal(error))
            self._linger(transport)
            return
        del self._buffer[:start]

    def _linger(self, transport: asyncio.Transport) -> None:
        """Close after a refusal without losing it: closing while the client's bytes are
        still unread would reset the connection, and a reset can overtake the answer. So
        stop sending, discard whatever still comes, and close when the client does (or
        after :data:`LINGER_SECONDS`)."""
        self._lingering = True
        self._buffer.clear()
        transport.write_eof()
        self._loop.call_later(LINGER_SECONDS, self.close)

    def _hand_off(self) -> None:
        """Let aiohttp serve this connection from here on, starting with the buffered bytes."""
        transport = self.transport
        self._forget()
        if transport is None:
            return
        self._counted = False  # still counted until it closes, released by the wrapper
        handler = CountedProtocol(self.server.fallback(), self.server.limits, self.peer_host)
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self._buffer:
            handler.data_received(bytes(self._buffer))
            self._buffer.clear()

    def _close_if_idle(self) -> None:
        idle = self._loop.time() - self._active_at
        if idle >= KEEP_ALIVE_SECONDS:
            self.close()
        else:
            self._idle = self._loop.call_later(KEEP_ALIVE_SECONDS - idle, self._close_if_idle)

    def _forget(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self.server.connections.discard(self)
        self.transport = None


def _plain_announce(head: RequestHead) -> bool:
    """A ``GET /announce`` with no body: for the hot path to try."""
    return head.path == b"/announce" and head.method == b"GET" and not head.has_body


def client_ip(host: str) -> bytes | None:
    """The packed IP of ``host``, for the announce hot path; ``None`` if it is no IP address
    (the general path then says what is wrong)."""
    try:
        return packed_ip(host)
    except TrackerMessageError:
        return None


def refusal(error: HeadError) -> bytes:
    """The whole response refusing a malformed head, its reason as text; the connection closes."""
    reason = f"{error.reason}\n".encode("utf-8", "replace")
    status = f"HTTP/1.1 {error.status} {_REASONS[error.status]}\r\n"
    head = f"{status}Content-Type: text/plain\r\nContent-Length: {len(reason)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + reason


def response(body: bytes, keep_alive: bool, minor_version: int) -> bytes:
    """A 200 carrying ``body``; the connection header only where the version needs it."""
    connection = (b"keep-alive" if minor_version == 0 else b"") if keep_alive else b"close"
    lines = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(body)
    if connection:
        lines += b"Connection: " + connection + b"\r\n"
    return lines + b"\r\n" + body
