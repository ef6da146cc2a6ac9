"""One peer connection as a sans-I/O state machine (BEP 3, BEP 6 fast, BEP 10 bit).

Theory of operation
-------------------
The driver (an asyncio protocol, or the simulator) owns the socket and the
clock. It feeds received bytes with :meth:`PeerConnection.receive_data`,
drains events with :meth:`~PeerConnection.next_event` until it returns
``None``, writes whatever :meth:`~PeerConnection.data_to_send` returns, and
calls :meth:`~PeerConnection.handle_timer` when :meth:`~PeerConnection.get_timer`
says. To say something it calls :meth:`~PeerConnection.send` with a message
from :mod:`~bitswarm.core.wire.messages`. The connection holds no policy:
which pieces to request, whom to choke, is decided above it.

States::

    HANDSHAKE --68 valid bytes, right info hash--> OPEN --error/timeout/close()--> CLOSED

Our handshake is queued at construction. The received handshake is checked
as its bytes arrive (protocol name, then info hash, then peer id), so a
stranger is refused early. In OPEN, bytes go through a bounded
:class:`~bitswarm.core.wire.parser.MessageParser`, and every message, both
ways, through :attr:`PeerConnection.exchange`
(:class:`~bitswarm.core.wire.exchange.Exchange`): the BEP 3 flags, the
requests outstanding each way, and the BEP 6 rules. A peer that breaks a rule
raises :class:`ProtocolError` from :meth:`~PeerConnection.next_event` (the
connection is then CLOSED for good and the caller drops the peer); a caller
that breaks one gets :class:`LocalProtocolError` from
:meth:`~PeerConnection.send`.

Time: every ``now`` the driver passes (construction, ``receive_data``,
``handle_timer``) advances the connection's clock, and :meth:`send` stamps
messages with it. Nothing heard for ``idle_timeout`` seconds (or no handshake
within ``handshake_timeout``) closes the connection with a :class:`TimedOut`
event; nothing sent for ``keepalive_interval`` seconds queues a keep-alive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from bitswarm.core.swarm.pieces import BLOCK_SIZE
from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
from bitswarm.core.wire.exchange import Exchange, RequestsDropped
from bitswarm.core.wire.handshake import (
    HANDSHAKE_SIZE,
    Extensions,
    Handshake,
    parse_handshake,
    peek_info_hash,
)
from bitswarm.core.wire.messages import KeepAlive, Message
from bitswarm.core.wire.parser import DEFAULT_MAX_EXTENDED, MessageParser

_T = TypeVar("_T")


class State(Enum):
    """Where a connection is in its life."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The connection closed itself; ``reason`` says which timer fired."""

    reason: str


Event = Handshake | Message | RequestsDropped | TimedOut
"""What :meth:`PeerConnection.next_event` returns: the peer's handshake, its
messages (keep-alives are absorbed), and the connection's own two events."""


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Timers and bounds of a connection; the defaults follow BEP 3 and common practice."""

    keepalive_interval: float = 120.0
    """BEP 3: keep-alives are "generally sent once every two minutes"."""
    idle_timeout: float = 180.0
    """Longer than a peer's keep-alive interval, with room for a slow link."""
    handshake_timeout: float = 20.0
    max_block: int = BLOCK_SIZE
    """The largest request served and the largest piece message accepted."""
    max_extended: int = DEFAULT_MAX_EXTENDED
    max_requests_in: int = 500
    """Outstanding requests accepted from the peer; more are rejected (or dropped)."""


class PeerConnection:
    """One peer connection, driven as the module's theory of operation describes."""

    def __init__(
        self,
        info_hash: bytes,
        peer_id: bytes,
        now: float,
        *,
        piece_count: int | None,
        extensions: Extensions = Extensions.FAST | Extensions.EXTENSION_PROTOCOL,
        expected_peer_id: bytes | None = None,
        config: ConnectionConfig | None = None,
    ) -> None:
        self.config = config or ConnectionConfig()
        self.local = Handshake(info_hash, peer_id, extensions)
        self.remote: Handshake | None = None
        self.expected_peer_id = expected_peer_id
        self.state = State.HANDSHAKE
        self._events: deque[Event] = deque()
        self._outgoing = bytearray(self.local.encode())
        self.exchange = Exchange(
            piece_count=piece_count,
            max_block=self.config.max_block,
            max_requests_in=self.config.max_requests_in,
            emit=self._events.append,
            reply=self._queue,
        )
        """Flags, requests and BEP 6 rules; read its state, send through :meth:`send`."""
        self._parser = MessageParser(
            piece_count, max_block=self.config.max_block, max_extended=self.config.max_extended
        )
        self._handshake_buffer = bytearray()
        self._error: ProtocolError | None = None
        self._now = now
        self._handshake_deadline = now + self.config.handshake_timeout
        """Fixed at the start: trickling handshake bytes does not extend it."""
        self._last_received = now
        self._last_sent = now

    @property
    def fast(self) -> bool:
        """BEP 6 is on: both handshakes set the fast bit."""

        return self.exchange.fast

    @property
    def extension_protocol(self) -> bool:
        """BEP 10 is on: both handshakes set the extension bit."""

        return self.exchange.extension_protocol

    def set_piece_count(self, piece_count: int) -> None:
        """The metadata arrived (BEP 9): from now on indices and bitfields are checked."""

        self.exchange.piece_count = self._parser.piece_count = piece_count

    # -- driving --------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        if self.state is State.CLOSED:
            return
        self._now = self._last_received = now
        if self.state is State.HANDSHAKE:
            self._handshake_buffer += data
        else:
            self._parser.receive_data(data)

    def next_event(self) -> Event | None:
        """The next event, or ``None`` when more data (or a timer) is needed."""

        while True:
            if self._error is not None:
                raise self._error
            if self._events:
                return self._events.popleft()
            if self.state is State.HANDSHAKE and self._guard(self._on_handshake):
                continue
            if self.state is not State.OPEN:
                return None
            message = self._guard(self._parser.next_message)
            if message is None:
                return None
            if not isinstance(message, KeepAlive):
                self._guard(self.exchange.received, message)

    def data_to_send(self) -> bytes:
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def close(self) -> None:
        self.state = State.CLOSED

    def get_timer(self) -> float | None:
        config = self.config
        if self.state is State.HANDSHAKE:
            return self._handshake_deadline
        if self.state is State.OPEN:
            return min(
                self._last_received + config.idle_timeout,
                self._last_sent + config.keepalive_interval,
            )
        return None

    def handle_timer(self, now: float) -> None:
        self._now = now
        config = self.config
        if self.state is State.HANDSHAKE and now >= self._handshake_deadline:
            self._time_out(f"no handshake within {config.handshake_timeout:g} s")
        elif self.state is State.OPEN and now >= self._last_received + config.idle_timeout:
            self._time_out(f"nothing received for {config.idle_timeout:g} s")
        elif self.state is State.OPEN and now >= self._last_sent + config.keepalive_interval:
            self._queue(KeepAlive())

    def _time_out(self, reason: str) -> None:
        self.state = State.CLOSED
        self._events.append(TimedOut(reason))

    def _guard(self, step: Callable[..., _T], *args: object) -> _T:
        """Run ``step``; a :class:`ProtocolError` closes the connection for good."""

        try:
            return step(*args)
        except ProtocolError as error:
            self.state = State.CLOSED
            self._error = error
            raise

    def _on_handshake(self) -> bool:
        """Check the handshake as far as it has come; return whether it is complete.

        A stranger (another protocol, another torrent) is refused as soon as
        its bytes show it, not after all 68 arrive.
        """

        buffer = self._handshake_buffer
        info_hash = peek_info_hash(buffer)
        if info_hash is not None and info_hash != self.local.info_hash:
            raise ProtocolError(
                f"handshake: info hash {info_hash.hex()} is not this torrent's "
                f"({self.local.info_hash.hex()})"
            )
        if len(buffer) < HANDSHAKE_SIZE:
            return False
        remote = parse_handshake(buffer[:HANDSHAKE_SIZE])
        if remote.peer_id == self.local.peer_id:
            raise ProtocolError("handshake: the peer id is our own (connected to ourselves)")
        if self.expected_peer_id is not None and remote.peer_id != self.expected_peer_id:
            raise ProtocolError(
                f"handshake: peer id {remote.peer_id!r} is not the expected "
                f"{self.expected_peer_id!r}"
            )
        self.remote = remote
        both = self.local.reserved & remote.reserved
        self.exchange.fast = bool(both & Extensions.FAST)
        self.exchange.extension_protocol = bool(both & Extensions.EXTENSION_PROTOCOL)
        self.state = State.OPEN
        self._events.append(remote)
        self._parser.receive_data(buffer[HANDSHAKE_SIZE:])
        self._handshake_buffer = bytearray()
        return True

    # -- sending ------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` for the peer, after checking it is legal now."""

        if self.state is not State.OPEN:
            raise LocalProtocolError(
                f"cannot send {type(message).__name__}: connection is {self.state.value}"
            )
        follow_ups = self.exchange.sending(message)
        self._queue(message)
        for follow_up in follow_ups:
            self._queue(follow_up)

    def _queue(self, message: Message) -> None:
        self._outgoing += message.encode()
        self._last_sent = self._now
