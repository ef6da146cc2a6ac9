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

Our handshake is queued at construction. In OPEN the connection keeps BEP 3's
four flags (who chokes whom, who is interested), the requests each side has
outstanding, and the BEP 6 allowed-fast sets, and it checks every message
against them. The rules live in two tables, :data:`_RECEIVE` and
:data:`_SEND`, one method a message type. A peer that breaks a rule raises
:class:`ProtocolError` (the connection is then CLOSED and the caller drops
the peer); a caller that breaks one gets :class:`LocalProtocolError`.

Where BEP 6 lets the connection answer by itself, it does: a request that
arrives while we choke (outside the allowed-fast set) is rejected, and so is
a cancelled request; without the fast extension both are dropped silently,
and a choke from the peer voids our outstanding requests, reported as
:class:`RequestsDropped`.

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
from typing import Any, TypeVar

from bitswarm.core.swarm.pieces import BLOCK_SIZE
from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
from bitswarm.core.wire.handshake import (
    HANDSHAKE_SIZE,
    Extensions,
    Handshake,
    parse_handshake,
    peek_info_hash,
)
from bitswarm.core.wire.messages import (
    FAST_MESSAGES,
    AllowedFast,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    Piece,
    Port,
    RejectRequest,
    Request,
    SuggestPiece,
    Unchoke,
    UnknownMessage,
)
from bitswarm.core.wire.parser import DEFAULT_MAX_EXTENDED, MessageParser

_T = TypeVar("_T")


class State(Enum):
    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RequestsDropped:
    """The peer choked us without the fast extension: these requests will not be served."""

    requests: tuple[Request, ...]


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The connection closed itself; ``reason`` says which timer fired."""

    reason: str


Event = Handshake | Message | RequestsDropped | TimedOut
"""What :meth:`PeerConnection.next_event` returns: the peer's handshake, its
messages (keep-alives are absorbed), and the connection's own two events."""


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
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


_FIRST_ONLY = (HaveBitfield, HaveAll, HaveNone)
"""BEP 3 / BEP 6: the piece summary, allowed only before other messages."""

_MAY_PRECEDE_FIRST = (Extended, Port, UnknownMessage, AllowedFast, SuggestPiece)
"""Messages real clients send before their piece summary; they do not close its window."""


class PeerConnection:
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
        self.piece_count = piece_count
        self.am_choking = True
        self.am_interested = False
        self.peer_choking = True
        self.peer_interested = False
        self.requests_out: dict[Request, None] = {}
        """Our requests the peer has neither served nor rejected (insertion ordered)."""
        self.requests_in: dict[Request, None] = {}
        """The peer's requests we have neither served nor rejected."""
        self.allowed_fast_in: set[int] = set()
        """Pieces the peer lets us request while it chokes us (BEP 6)."""
        self.allowed_fast_out: set[int] = set()
        self._parser = MessageParser(
            piece_count, max_block=self.config.max_block, max_extended=self.config.max_extended
        )
        self._handshake_buffer = bytearray()
        self._events: deque[Event] = deque()
        self._outgoing = bytearray(self.local.encode())
        self._error: ProtocolError | None = None
        self._summary_window = [True, True]
        """Whether the piece summary may still be [received, sent]."""
        self._now = now
        self._last_received = now
        self._last_sent = now

    # -- negotiated extensions ------------------------------------------------

    def _both(self, flag: Extensions) -> bool:
        return self.remote is not None and self.local.supports(flag) and self.remote.supports(flag)

    @property
    def fast(self) -> bool:
        """BEP 6 is on: both handshakes set the fast bit."""

        return self._both(Extensions.FAST)

    @property
    def extension_protocol(self) -> bool:
        """BEP 10 is on: both handshakes set the extension bit."""

        return self._both(Extensions.EXTENSION_PROTOCOL)

    def set_piece_count(self, piece_count: int) -> None:
        """The metadata arrived (BEP 9): from now on indices and bitfields are checked."""

        self.piece_count = self._parser.piece_count = piece_count

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
                self._guard(self._on_message, message)

    def data_to_send(self) -> bytes:
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def close(self) -> None:
        self.state = State.CLOSED

    def get_timer(self) -> float | None:
        config = self.config
        if self.state is State.HANDSHAKE:
            return self._last_received + config.handshake_timeout
        if self.state is State.OPEN:
            return min(
                self._last_received + config.idle_timeout,
                self._last_sent + config.keepalive_interval,
            )
        return None

    def handle_timer(self, now: float) -> None:
        self._now = now
        config = self.config
        if self.state is State.HANDSHAKE and now >= self._last_received + config.handshake_timeout:
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
        self.state = State.OPEN
        self._events.append(remote)
        self._parser.receive_data(buffer[HANDSHAKE_SIZE:])
        self._handshake_buffer = bytearray()
        return True

    # -- receiving --------------------------------------------------------------

    def _on_message(self, message: Message) -> None:
        name = type(message).__name__
        if isinstance(message, FAST_MESSAGES) and not self.fast:
            raise ProtocolError(f"{name} received, but the fast extension was not negotiated")
        if isinstance(message, Extended) and not self.extension_protocol:
            raise ProtocolError("extended message received, but BEP 10 was not negotiated")
        self._check_summary(message, 0, ProtocolError)
        handler = _RECEIVE.get(type(message))
        if handler is None or handler(self, message):
            self._events.append(message)

    def _check_summary(
        self, message: Message, side: int, error: type[ProtocolError | LocalProtocolError]
    ) -> None:
        """BEP 6: the bitfield, have all or have none comes first, and only once."""

        whose = ("peer", "we")[side]
        if isinstance(message, _FIRST_ONLY):
            if not self._summary_window[side]:
                raise error(f"{whose} sent {type(message).__name__} after other messages")
            self._summary_window[side] = False
        elif not isinstance(message, _MAY_PRECEDE_FIRST):
            if self._summary_window[side] and self.fast:
                raise error(
                    f"{whose} sent {type(message).__name__} before the bitfield, have all "
                    "or have none that BEP 6 requires first"
                )
            self._summary_window[side] = False

    def _check_index(
        self, index: int, what: str, error: type[ProtocolError | LocalProtocolError] = ProtocolError
    ) -> None:
        if self.piece_count is not None and not 0 <= index < self.piece_count:
            raise error(f"{what} names piece {index}, but the torrent has {self.piece_count}")

    def _received_choke(self, message: Choke) -> bool:
        self.peer_choking = True
        if not self.fast and self.requests_out:
            self._events.append(message)
            self._events.append(RequestsDropped(tuple(self.requests_out)))
            self.requests_out.clear()
            return False
        return True

    def _received_flag(self, message: Unchoke | Interested | NotInterested) -> bool:
        if isinstance(message, Unchoke):
            self.peer_choking = False
        else:
            self.peer_interested = isinstance(message, Interested)
        return True

    def _received_index(self, message: Have | SuggestPiece | AllowedFast) -> bool:
        self._check_index(message.index, type(message).__name__)
        if isinstance(message, AllowedFast):
            self.allowed_fast_in.add(message.index)
        return True

    def _received_request(self, message: Request) -> bool:
        self._check_index(message.index, "request")
        if not 0 < message.length <= self.config.max_block:
            raise ProtocolError(
                f"request for {message.length} bytes at piece {message.index} offset "
                f"{message.begin}; at most {self.config.max_block} are served"
            )
        refused = (self.am_choking and message.index not in self.allowed_fast_out) or len(
            self.requests_in
        ) >= self.config.max_requests_in
        if message in self.requests_in:
            return False
        if refused:
            if self.fast:
                self._queue(RejectRequest(message.index, message.begin, message.length))
            return False
        self.requests_in[message] = None
        return True

    def _received_cancel(self, message: Cancel) -> bool:
        request = Request(message.index, message.begin, message.length)
        if request not in self.requests_in:
            return False  # already served: the cancel crossed our piece on the wire
        del self.requests_in[request]
        if self.fast:  # BEP 6: every request gets exactly one answer
            self._queue(RejectRequest(message.index, message.begin, message.length))
        return True

    def _received_piece(self, message: Piece) -> bool:
        request = message.request
        if request in self.requests_out:
            del self.requests_out[request]
            return True
        if self.fast:
            raise ProtocolError(
                f"piece {message.index} offset {message.begin} ({len(message.block)} bytes) "
                "was never requested (BEP 6 requires closing)"
            )
        return False  # BEP 3: a late answer to a cancelled or choked request; dropped

    def _received_reject(self, message: RejectRequest) -> bool:
        request = Request(message.index, message.begin, message.length)
        if request not in self.requests_out:
            raise ProtocolError(
                f"reject for piece {message.index} offset {message.begin} "
                f"({message.length} bytes), which was never requested"
            )
        del self.requests_out[request]
        return True

    # -- sending ------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` for the peer, after checking it is legal now."""

        if self.state is not State.OPEN:
            raise LocalProtocolError(
                f"cannot send {type(message).__name__}: connection is {self.state.value}"
            )
        name = type(message).__name__
        if isinstance(message, FAST_MESSAGES) and not self.fast:
            raise LocalProtocolError(f"cannot send {name}: the fast extension is not on")
        if isinstance(message, Extended) and not self.extension_protocol:
            raise LocalProtocolError("cannot send an extended message: BEP 10 is not on")
        if not isinstance(message, KeepAlive):
            self._check_summary(message, 1, LocalProtocolError)
        handler = _SEND.get(type(message))
        follow_ups = handler(self, message) if handler is not None else None
        self._queue(message)
        for follow_up in follow_ups or ():
            self._queue(follow_up)

    def _queue(self, message: Message) -> None:
        self._outgoing += message.encode()
        self._last_sent = self._now

    def _send_choke(self, message: Choke) -> list[Message]:
        """BEP 6: choke first, then reject what will not be served."""

        self.am_choking = True
        dropped = [r for r in self.requests_in if r.index not in self.allowed_fast_out]
        for request in dropped:
            del self.requests_in[request]
        if not self.fast:
            return []
        return [RejectRequest(r.index, r.begin, r.length) for r in dropped]

    def _send_flag(self, message: Unchoke | Interested | NotInterested) -> None:
        if isinstance(message, Unchoke):
            self.am_choking = False
        else:
            self.am_interested = isinstance(message, Interested)

    def _send_index(self, message: Have | SuggestPiece | AllowedFast) -> None:
        self._check_index(message.index, type(message).__name__, LocalProtocolError)
        if isinstance(message, AllowedFast):
            self.allowed_fast_out.add(message.index)

    def _send_request(self, message: Request) -> None:
        self._check_index(message.index, "request", LocalProtocolError)
        if self.peer_choking and message.index not in self.allowed_fast_in:
            raise LocalProtocolError(f"cannot request piece {message.index}: the peer chokes us")
        if message in self.requests_out:
            raise LocalProtocolError(f"{message} is already outstanding")
        self.requests_out[message] = None

    def _send_cancel(self, message: Cancel) -> None:
        request = Request(message.index, message.begin, message.length)
        if request not in self.requests_out:
            raise LocalProtocolError(f"cannot cancel {request}: it is not outstanding")
        if not self.fast:  # with BEP 6 the peer still answers: piece or reject
            del self.requests_out[request]

    def _send_answer(self, message: Piece | RejectRequest) -> None:
        request = (
            message.request
            if isinstance(message, Piece)
            else Request(message.index, message.begin, message.length)
        )
        if request not in self.requests_in:
            raise LocalProtocolError(f"cannot answer {request}: the peer has not asked for it")
        del self.requests_in[request]


_Receiver = Callable[[PeerConnection, Any], bool]
_Sender = Callable[[PeerConnection, Any], list[Message] | None]

_RECEIVE: dict[type, _Receiver] = {
    Choke: PeerConnection._received_choke,
    Unchoke: PeerConnection._received_flag,
    Interested: PeerConnection._received_flag,
    NotInterested: PeerConnection._received_flag,
    Have: PeerConnection._received_index,
    SuggestPiece: PeerConnection._received_index,
    AllowedFast: PeerConnection._received_index,
    Request: PeerConnection._received_request,
    Cancel: PeerConnection._received_cancel,
    Piece: PeerConnection._received_piece,
    RejectRequest: PeerConnection._received_reject,
}
"""Receive rules: update state, return whether the message is passed on as an event."""

_SEND: dict[type, _Sender] = {
    Choke: PeerConnection._send_choke,
    Unchoke: PeerConnection._send_flag,
    Interested: PeerConnection._send_flag,
    NotInterested: PeerConnection._send_flag,
    Have: PeerConnection._send_index,
    SuggestPiece: PeerConnection._send_index,
    AllowedFast: PeerConnection._send_index,
    Request: PeerConnection._send_request,
    Cancel: PeerConnection._send_cancel,
    Piece: PeerConnection._send_answer,
    RejectRequest: PeerConnection._send_answer,
}
"""Send rules: check the message is legal now (raise otherwise), update state, and
return any messages that must follow it."""
