"""One peer connection over TCP as an asyncio Protocol (BEP 3 handshake and messages).

A thin driver of the sans-I/O :class:`bitswarm.core.wire.connection.PeerConnection`,
which decides everything about the bytes: the handshake both ways (an
accepted peer's info-hash is reported before we say a byte, and this driver
only looks it up with the :class:`Router`), our own peer id, the handshake
deadline, the framing. Received bytes go from the transport into it, its
events go out: the handshake to the torrent (the :class:`PeerHost`), which may
still refuse the peer, and every message after it to the torrent, which
decides what they mean and answers through :meth:`PeerConnection.send`. A
Protocol rather than streams: no reader task, and a single frame is never
copied on its way to ``transport.write``.

Flow control, both directions:

- sending: frames wait in a queue; each one first reserves its bytes in the
  upload :class:`~bitswarm.aio.ratelimit.Limiter` and is written when the
  reservation allows; while the transport's buffer is above its high-water
  mark (``pause_writing``) nothing more is written.
- receiving: the bytes read are reserved in the download limiter, and while
  the debt is being paid the transport stops reading, so TCP's window pushes
  back on the peer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from typing import Protocol, cast

from bitswarm.aio.ratelimit import Limiters
from bitswarm.core.swarm.torrent import EXTENSIONS
from bitswarm.core.wire import connection as wire
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.handshake import Handshake
from bitswarm.core.wire.messages import Message

Address = tuple[str, int]

_log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
WRITE_HIGH_WATER = 256 * 1024
"""Bytes buffered in the transport before it asks us to stop writing."""

WRITE_BATCH = 2 * (16 * 1024 + 13)
"""Frames queued in one turn of the loop go out in writes of up to two blocks' worth under
a rate limit: one system call for a burst of requests or haves, and rate-limit turns small
enough to stay fair."""

UNLIMITED_WRITE_BATCH = 16 * (16 * 1024 + 13)
"""The same without a rate limit, where no turn needs to be fair: a fast upload's blocks cost
one system call for every sixteen (a vectored one on uvloop, which needs no copy to join them)."""


class PeerHost(Protocol):
    """The torrent a connection belongs to: it is told everything and decides everything."""

    @property
    def info_hash(self) -> bytes: ...

    @property
    def piece_count(self) -> int: ...

    @property
    def limiters(self) -> Limiters: ...

    def peer_opened(self, connection: PeerConnection, handshake: Handshake) -> bool:
        """A good handshake arrived; answer False to refuse the peer (limits, duplicates)."""

    def peer_messages(self, connection: PeerConnection, messages: list[Message]) -> None: ...

    def peer_closed(self, connection: PeerConnection, reason: str) -> None: ...

    def peer_drained(self, connection: PeerConnection) -> None:
        """Our send queue to this peer just emptied: time to read more blocks for it."""


class Router(Protocol):
    """Finds the torrent an incoming connection asks for."""

    def route(self, info_hash: bytes) -> PeerHost | None: ...


class PeerConnection(asyncio.Protocol):
    """A TCP connection to one peer, from its first byte to its close."""

    def __init__(self, peer_id: bytes, *, host: PeerHost | None, router: Router | None) -> None:
        if (host is None) == (router is None):
            raise ValueError("a connection has a host (outgoing) or a router (incoming)")
        self.peer_id = peer_id
        self.host = host
        self._router = router
        self.address: Address = ("", 0)
        self.bytes_sent = 0
        self.close_reason = ""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        info_hash, pieces = (None, None) if host is None else (host.info_hash, host.piece_count)
        self._wire = wire.PeerConnection(
            peer_id,
            self._loop.time(),
            info_hash=info_hash,
            piece_count=pieces,
            extensions=EXTENSIONS,
        )
        self._queue: deque[bytes] = deque()
        self._queued = 0
        """Bytes in ``_queue``, plus a frame that waits for its tokens."""
        self._writing_paused = False
        self._waiting_for_tokens = False
        self._flush_soon = False
        self._reading_held = False
        """The torrent asked us to stop reading (its disk queue is full)."""
        self._reading_rate_paused = False
        self._opened = False
        self._timer: asyncio.TimerHandle | None = None
        self.closed = self._loop.create_future()
        """Resolved with the reason once the connection is gone."""

    @property
    def remote(self) -> Handshake | None:
        """The peer's handshake, once it is complete."""

        return self._wire.remote

    @property
    def ourselves(self) -> bool:
        """The peer presented our own peer id: we dialled our own listener."""

        return self._wire.connected_to_self

    @property
    def outgoing(self) -> bool:
        return self._router is None

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting for the rate limit or the socket (not those the transport buffers)."""

        return self._queued

    # -- asyncio callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.address = (str(peer[0]), int(peer[1]))
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._handshake_timer()
        self._write_handshake()

    def data_received(self, data: bytes) -> None:
        self._wire.receive_data(data)
        try:
            self._deliver()
        except ProtocolError as error:
            self.close(str(error))
            return
        except Exception:  # our bug, not the peer's doing: drop this peer, keep the session
            _log.exception("peer %s:%s: internal error", *self.address)
            self.close("internal error (logged)")
            return
        if self.host is not None and self._transport is not None:
            wait = self.host.limiters.down.reserve(len(data), self._loop.time())
            if wait > 0 and not self._transport.is_closing():
                self._reading_rate_paused = True
                self._transport.pause_reading()
                self._loop.call_later(wait, self._rate_debt_paid)

    def eof_received(self) -> bool:
        self.close("the peer closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.close_reason:
            self.close_reason = str(exc) if exc else "the peer closed the connection"
        if self._timer is not None:
            self._timer.cancel()
        self._queue.clear()
        self._queued = 0
        if self._opened and self.host is not None:
            self.host.peer_closed(self, self.close_reason)
        if not self.closed.done():
            self.closed.set_result(self.close_reason)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._flush()

    # -- used by the torrent ----------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message``; it is written as soon as the rate limits and the socket allow."""

        if self._transport is None or self._transport.is_closing():
            return
        self._wire.send(message)
        for chunk in self._wire.chunks_to_send():  # a block is queued as it is, uncopied
            self._queue.append(chunk)
            self._queued += len(chunk)
        if not self._flush_soon:  # gather what the torrent sends in this turn into one write
            self._flush_soon = True
            self._loop.call_soon(self._flush)

    def hold_reading(self, held: bool) -> None:
        """Stop (or restart) reading from the peer: back-pressure from the disk."""

        self._reading_held = held
        self._update_reading()

    def close(self, reason: str) -> None:
        """Drop the peer; ``reason`` is reported to the torrent once the socket is gone."""

        if not self.close_reason:
            self.close_reason = reason
            _log.debug("peer %s:%s: closed: %s", *self.address, reason)
        self._wire.close()
        if self._transport is not None:
            self._transport.close()

    # -- internals --------------------------------------------------------------------

    def _write_handshake(self) -> None:
        """Write our handshake, once the wire connection has queued it (not rate limited)."""

        handshake = self._wire.data_to_send()
        if handshake and self._transport is not None:
            self.bytes_sent += len(handshake)
            self._transport.write(handshake)

    def _deliver(self) -> None:
        """Hand the wire connection's events on until it needs more bytes.

        Peer messages go to the torrent together, all those one read brought
        (those before a malformed one too, since they were good)."""

        messages: list[Message] = []
        machine = self._wire
        try:
            while self._transport is not None and not self._transport.is_closing():
                messages += machine.next_messages()
                event = machine.next_event()
                if event is None:
                    return
                if isinstance(event, wire.InfoHashReceived):
                    self._route(event.info_hash)
                elif isinstance(event, Handshake):
                    self._open(event)
                elif isinstance(event, wire.TimedOut):
                    self.close(event.reason)
                else:
                    messages.append(event)
        finally:
            if messages and self.host is not None:
                self.host.peer_messages(self, messages)

    def _route(self, info_hash: bytes) -> None:
        assert self._router is not None
        self.host = self._router.route(info_hash)
        if self.host is None:
            self._wire.refuse()
        else:
            self._wire.accept(self.host.piece_count)
            self._write_handshake()

    def _open(self, handshake: Handshake) -> None:
        assert self.host is not None
        if self._timer is not None:
            self._timer.cancel()
        if not self.host.peer_opened(self, handshake):
            raise ProtocolError("refused by the torrent (connection limit or duplicate)")
        self._opened = True

    def _flush(self) -> None:
        self._flush_soon = False
        transport = self._transport
        if transport is None or self.host is None:
            return
        limiter = self.host.limiters.up
        bound = UNLIMITED_WRITE_BATCH if limiter.unlimited else WRITE_BATCH
        while self._queue and not self._writing_paused and not self._waiting_for_tokens:
            if transport.is_closing():
                self._queue.clear()
                self._queued = 0
                return
            frames, size = self._next_batch(bound)
            wait = limiter.reserve(size, self._loop.time())
            if wait > 0:
                self._waiting_for_tokens = True
                self._loop.call_later(wait, self._write_reserved, frames, size)
                return
            self._write(transport, frames, size)
        if not self._queued and not self._writing_paused:
            self.host.peer_drained(self)

    def _next_batch(self, bound: int) -> tuple[list[bytes], int]:
        """Queued chunks up to ``bound`` bytes (at least one), and their size."""

        frames = [self._queue.popleft()]
        size = len(frames[0])
        while self._queue and size + len(self._queue[0]) <= bound:
            frame = self._queue.popleft()
            frames.append(frame)
            size += len(frame)
        return frames, size

    def _write(self, transport: asyncio.Transport, frames: list[bytes], size: int) -> None:
        self._queued -= size
        self.bytes_sent += size
        transport.writelines(frames)  # one write: vectored on uvloop, joined on asyncio 3.11

    def _write_reserved(self, frames: list[bytes], size: int) -> None:
        self._waiting_for_tokens = False
        if self._transport is not None and not self._transport.is_closing():
            self._write(self._transport, frames, size)
            self._flush()

    def _rate_debt_paid(self) -> None:
        self._reading_rate_paused = False
        self._update_reading()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._reading_held or self._reading_rate_paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _handshake_timer(self) -> None:
        """Run the wire connection's handshake deadline: wait for it, or close on it."""

        self._wire.handle_timer(self._loop.time())
        deadline = self._wire.get_timer()
        if deadline is not None:  # not yet (asyncio may run a timer a tick early)
            self._timer = self._loop.call_at(deadline, self._handshake_timer)
        self._deliver()


async def connect(
    address: Address, peer_id: bytes, host: PeerHost, timeout: float = CONNECT_TIMEOUT
) -> PeerConnection:
    """Dial ``address`` (IPv4 or IPv6) for ``host``'s torrent; the handshake follows by itself."""

    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, protocol = await loop.create_connection(
            lambda: PeerConnection(peer_id, host=host, router=None), address[0], address[1]
        )
    return protocol
