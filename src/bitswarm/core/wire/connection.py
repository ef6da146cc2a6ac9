"""One peer connection's bytes as a sans-I/O state machine: handshake and framing (BEP 3).

Theory of operation
-------------------
The driver (an asyncio protocol, a test, a benchmark) owns the socket and the
clock. It feeds received bytes with :meth:`PeerConnection.receive_data`,
drains events with :meth:`~PeerConnection.next_event` until it returns
``None``, writes whatever :meth:`~PeerConnection.data_to_send` returns, and
calls :meth:`~PeerConnection.handle_timer` when :meth:`~PeerConnection.get_timer`
says. It queues messages with :meth:`~PeerConnection.send`.

The connection owns the byte-level rules and nothing above them:

* the 68-byte handshake, both directions. A connection we dial knows its
  torrent and queues our handshake at once. An accepted one
  (``info_hash=None``) reports the info-hash the peer asks for as
  :class:`InfoHashReceived` as soon as its first 48 bytes show it; the driver
  looks the torrent up and calls :meth:`~PeerConnection.accept` (only then
  is our handshake queued) or :meth:`~PeerConnection.refuse`, so a stranger
  never hears a byte from us. The received handshake is checked as its bytes
  arrive (protocol name, then info-hash), then its peer id: our own means we
  dialled ourselves (:attr:`PeerConnection.connected_to_self`);
* the handshake deadline, fixed at the start (trickled bytes do not extend
  it); it ends the connection with a :class:`TimedOut` event;
* after the handshake, framing through a bounded
  :class:`~bitswarm.core.wire.parser.MessageParser`: every message, keep-alives
  included, is an event.

What the messages mean (flags, requests, the BEP 6 rules, which extensions the
two handshakes negotiated, keep-alive and idle timers) is decided above, by the
torrent state machine (:mod:`bitswarm.core.swarm.torrent`), which the
simulator runs too.

States::

    HANDSHAKE --68 valid bytes--> OPEN
    HANDSHAKE | OPEN --bad bytes (ProtocolError), refuse(), deadline, close()--> CLOSED

A peer that breaks a rule raises :class:`ProtocolError` from
:meth:`~PeerConnection.next_event`, then and on every later call; the
connection is CLOSED for good. A driver that sends before the handshake is
done, or after the close, gets :class:`LocalProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
from bitswarm.core.wire.handshake import (
    HANDSHAKE_SIZE,
    Extensions,
    Handshake,
    parse_handshake,
    peek_info_hash,
)
from bitswarm.core.wire.messages import Message, Piece
from bitswarm.core.wire.parser import MessageParser

_T = TypeVar("_T")

HANDSHAKE_TIMEOUT = 20.0
"""Seconds from the connection's start to a complete handshake from the peer."""


class State(Enum):
    """Where a connection is in its life."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class InfoHashReceived:
    """An accepted connection's peer asks for ``info_hash``: accept it or refuse it."""

    info_hash: bytes


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The connection closed itself; ``reason`` says why."""

    reason: str


Event = InfoHashReceived | Handshake | Message | TimedOut
"""What :meth:`PeerConnection.next_event` returns: the info-hash an accepted peer asks
for, the peer's complete handshake, then its messages; or the time-out that ended it."""


class PeerConnection:
    """One peer connection's bytes, driven as the module's theory of operation describes."""

    def __init__(
        self,
        peer_id: bytes,
        now: float,
        *,
        info_hash: bytes | None,
        piece_count: int | None = None,
        extensions: Extensions,
    ) -> None:
        """``info_hash`` is the torrent of a connection we dial, ``None`` for one we accept."""

        self.peer_id = peer_id
        self.extensions = extensions
        self.local: Handshake | None = None
        """Our handshake, once queued (at once when we dial, on :meth:`accept` otherwise)."""
        self.remote: Handshake | None = None
        self.connected_to_self = False
        """The peer presented our own peer id: we dialled our own listener."""
        self.state = State.HANDSHAKE
        self._outgoing: list[bytes] = []
        self._parser = MessageParser(piece_count)
        self._buffer = bytearray()
        """Handshake bytes received so far."""
        self._asked: bytes | None = None
        """The info-hash an accepted peer asked for, once reported."""
        self._pending: InfoHashReceived | Handshake | TimedOut | None = None
        self._error: ProtocolError | None = None
        self._deadline = now + HANDSHAKE_TIMEOUT
        if info_hash is not None:
            self._say_handshake(info_hash)

    # -- driving --------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if self.state is State.HANDSHAKE:
            self._buffer += data
        elif self.state is State.OPEN:
            self._parser.receive_data(data)

    def next_event(self) -> Event | None:
        """The next event, or ``None`` when more data, a timer or the driver's answer is due."""

        if self._error is not None:
            raise self._error
        if self._pending is not None:
            event, self._pending = self._pending, None
            return event
        if self.state is State.HANDSHAKE:
            return self._guard(self._on_handshake)
        if self.state is State.OPEN:
            return self._guard(self._parser.next_message)
        return None

    def next_messages(self) -> list[Message]:
        """The messages buffered in an OPEN connection, in order, at once: what
        :meth:`next_event` would return one by one. ``[]`` in other states, where
        :meth:`next_event` gives the events; a malformed message ends the list, and the
        next call raises its :class:`ProtocolError`."""

        if self.state is not State.OPEN or self._pending is not None:
            return []
        return self._guard(self._parser.next_messages)

    def data_to_send(self) -> bytes:
        """Bytes queued for the peer since the last call (a single frame is not copied)."""

        outgoing = self._outgoing
        if not outgoing:
            return b""
        data = outgoing[0] if len(outgoing) == 1 else b"".join(outgoing)
        outgoing.clear()
        return data

    def chunks_to_send(self) -> list[bytes]:
        """The same bytes as :meth:`data_to_send`, in the pieces they were queued in, for a
        vectored write: a ``piece`` message is its header, then its block, not copied."""

        chunks, self._outgoing = self._outgoing, []
        return chunks

    def send(self, message: Message) -> None:
        """Queue ``message``; only between a complete handshake and the close."""

        if self.state is not State.OPEN:
            raise LocalProtocolError(
                f"cannot send {type(message).__name__}: connection is {self.state.value}"
            )
        if type(message) is Piece:
            self._outgoing += (message.header(), message.block)
        else:
            self._outgoing.append(message.encode())

    def accept(self, piece_count: int | None) -> None:
        """Answer :class:`InfoHashReceived`: the torrent is ours; our handshake is queued."""

        if self._asked is None or self.local is not None:
            raise LocalProtocolError("accept answers an accepted connection's InfoHashReceived")
        self._parser.piece_count = piece_count
        self._say_handshake(self._asked)

    def refuse(self) -> None:
        """Answer :class:`InfoHashReceived`: no torrent here has that info-hash."""

        if self._asked is None or self.local is not None:
            raise LocalProtocolError("refuse answers an accepted connection's InfoHashReceived")
        self.state = State.CLOSED
        self._error = ProtocolError(f"handshake: no torrent here has info-hash {self._asked.hex()}")

    def close(self) -> None:
        self.state = State.CLOSED

    def get_timer(self) -> float | None:
        return self._deadline if self.state is State.HANDSHAKE else None

    def handle_timer(self, now: float) -> None:
        if self.state is State.HANDSHAKE and now >= self._deadline:
            self.state = State.CLOSED
            self._pending = TimedOut(f"no handshake within {HANDSHAKE_TIMEOUT:g} s")

    # -- the handshake ----------------------------------------------------------------

    def _say_handshake(self, info_hash: bytes) -> None:
        self.local = Handshake(info_hash, self.peer_id, self.extensions)
        self._outgoing.append(self.local.encode())

    def _on_handshake(self) -> InfoHashReceived | Handshake | None:
        """Check the handshake as far as it has come; an event once there is one.

        A stranger (another protocol, another torrent) is refused as soon as
        its bytes show it, not after all 68 arrive.
        """

        buffer = self._buffer
        info_hash = peek_info_hash(buffer)
        if info_hash is None:
            return None
        if self.local is None:
            if self._asked is not None:
                return None  # waiting for accept() or refuse()
            self._asked = info_hash
            return InfoHashReceived(info_hash)
        if info_hash != self.local.info_hash:
            raise ProtocolError(
                f"handshake: info hash {info_hash.hex()} is not this torrent's "
                f"({self.local.info_hash.hex()})"
            )
        if len(buffer) < HANDSHAKE_SIZE:
            return None
        remote = parse_handshake(buffer[:HANDSHAKE_SIZE])
        if remote.peer_id == self.peer_id:
            self.connected_to_self = True
            raise ProtocolError("handshake: the peer id is our own (connected to ourselves)")
        self.remote = remote
        self.state = State.OPEN
        self._parser.receive_data(buffer[HANDSHAKE_SIZE:])
        self._buffer = bytearray()
        return remote

    def _guard(self, step: Callable[[], _T]) -> _T:
        """Run ``step``; a :class:`ProtocolError` closes the connection for good."""

        try:
            return step()
        except ProtocolError as error:
            self.state = State.CLOSED
            self._error = error
            raise
