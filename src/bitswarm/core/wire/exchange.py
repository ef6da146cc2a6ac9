"""The exchange over one peer connection: who chokes whom, who wants what, and
which requests are outstanding each way (BEP 3, with BEP 6 fast rules).

Theory of operation
-------------------
BEP 3 gives each side of a connection two flags about the other (choking,
interested); BEP 6 adds that every request gets exactly one answer (the
block, or a reject) and that a few pieces may be requested while choked (the
allowed-fast set). :class:`Exchange` holds that state for both directions and
checks each message against it, through two tables with one method a message
type: :data:`_RECEIVE` for the peer's messages and :data:`_SEND` for ours. A
peer that breaks a rule raises :class:`ProtocolError`; a caller that breaks
one, :class:`LocalProtocolError`.

Where BEP 6 lets it answer by itself, it does, through the ``reply`` callback
its owner gives it: a request that arrives while we choke (outside the
allowed-fast set), or beyond ``max_requests_in``, is rejected, and so is a
request the peer cancels. Without the fast extension those are dropped
silently, and a choke from the peer voids our outstanding requests, reported
through ``emit`` as :class:`RequestsDropped`. Choking a peer rejects its
waiting requests after the choke itself (BEP 6: "choke first and then reject").

The exchange knows nothing of bytes, handshakes or time:
:class:`~bitswarm.core.wire.connection.PeerConnection` owns it, and sets
:attr:`Exchange.fast` once both handshakes are in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError
from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
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


@dataclass(frozen=True, slots=True)
class RequestsDropped:
    """The peer choked us without the fast extension: these requests will not be served."""

    requests: tuple[Request, ...]


_FIRST_ONLY = (HaveBitfield, HaveAll, HaveNone)
"""BEP 3 / BEP 6: the piece summary, allowed only before other messages."""

_MAY_PRECEDE_FIRST = (Extended, Port, UnknownMessage, AllowedFast, SuggestPiece)
"""Messages real clients send before their piece summary; they do not close its window."""


def _request(message: Request | Cancel | RejectRequest | Piece) -> Request:
    if isinstance(message, Piece):
        return message.request
    return Request(message.index, message.begin, message.length)


def _reject(request: Request | Cancel) -> RejectRequest:
    return RejectRequest(request.index, request.begin, request.length)


class Exchange:
    """Both directions' BEP 3 flags and requests, with the rules that keep them honest."""

    def __init__(
        self,
        *,
        piece_count: int | None,
        max_block: int,
        max_requests_in: int,
        emit: Callable[[Any], None],
        reply: Callable[[Message], None],
    ) -> None:
        self.piece_count = piece_count
        self.max_block = max_block
        self.max_requests_in = max_requests_in
        self.fast = False
        """Both handshakes set the BEP 6 bit."""
        self.extension_protocol = False
        """Both handshakes set the BEP 10 bit."""
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
        self._summary_window = [True, True]
        """Whether the piece summary may still be [received, sent]."""
        self._emit = emit
        self._reply = reply

    def received(self, message: Message) -> None:
        """Apply a message from the peer; pass it on through ``emit`` unless it is absorbed."""

        self._check_negotiated(message, ProtocolError, "{name} received, but {extension}")
        self._check_summary(message, 0, ProtocolError)
        handler = _RECEIVE.get(type(message))
        passed_on = handler is None or handler(self, message)
        self._close_summary(message, 0)
        if passed_on:
            self._emit(message)

    def sending(self, message: Message) -> list[Message]:
        """Check and apply a message of ours; return the messages that must follow it."""

        self._check_negotiated(message, LocalProtocolError, "cannot send {name}: {extension}")
        if isinstance(message, KeepAlive):
            return []
        self._check_summary(message, 1, LocalProtocolError)
        handler = _SEND.get(type(message))
        follow_ups = handler(self, message) if handler is not None else None
        self._close_summary(message, 1)
        return follow_ups or []

    def _check_negotiated(
        self, message: Message, error: type[ProtocolError | LocalProtocolError], template: str
    ) -> None:
        """BEP 6 and BEP 10 messages need both handshakes to have set their bit."""

        if isinstance(message, FAST_MESSAGES) and not self.fast:
            extension = "the fast extension (BEP 6) was not negotiated"
        elif isinstance(message, Extended) and not self.extension_protocol:
            extension = "the extension protocol (BEP 10) was not negotiated"
        else:
            return
        raise error(template.format(name=type(message).__name__, extension=extension))

    def _check_summary(
        self, message: Message, side: int, error: type[ProtocolError | LocalProtocolError]
    ) -> None:
        """BEP 6: the bitfield, have all or have none comes first, and only once."""

        whose = ("peer", "we")[side]
        if isinstance(message, _FIRST_ONLY) and not self._summary_window[side]:
            raise error(f"{whose} sent {type(message).__name__} after other messages")
        if (
            not isinstance(message, _FIRST_ONLY + _MAY_PRECEDE_FIRST)
            and self._summary_window[side]
            and self.fast
        ):
            raise error(
                f"{whose} sent {type(message).__name__} before the bitfield, have all "
                "or have none that BEP 6 requires first"
            )

    def _close_summary(self, message: Message, side: int) -> None:
        """Once anything but a message that may precede it has gone by, the window shuts."""

        if not isinstance(message, _MAY_PRECEDE_FIRST):
            self._summary_window[side] = False

    def _check_index(
        self, index: int, what: str, error: type[ProtocolError | LocalProtocolError] = ProtocolError
    ) -> None:
        if self.piece_count is not None and not 0 <= index < self.piece_count:
            raise error(f"{what} names piece {index}, but the torrent has {self.piece_count}")

    def _received_choke(self, message: Choke) -> bool:
        self.peer_choking = True
        if not self.fast and self.requests_out:
            self._emit(message)
            self._emit(RequestsDropped(tuple(self.requests_out)))
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
        if not 0 < message.length <= self.max_block:
            raise ProtocolError(
                f"request for {message.length} bytes at piece {message.index} offset "
                f"{message.begin}; at most {self.max_block} are served"
            )
        refused = (self.am_choking and message.index not in self.allowed_fast_out) or len(
            self.requests_in
        ) >= self.max_requests_in
        if message in self.requests_in:
            return False
        if refused:
            if self.fast:
                self._reply(_reject(message))
            return False
        self.requests_in[message] = None
        return True

    def _received_cancel(self, message: Cancel) -> bool:
        request = _request(message)
        if request not in self.requests_in:
            return False  # already served: the cancel crossed our piece on the wire
        del self.requests_in[request]
        if self.fast:  # BEP 6: every request gets exactly one answer
            self._reply(_reject(message))
        return True

    def _received_piece(self, message: Piece) -> bool:
        request = _request(message)
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
        request = _request(message)
        if request not in self.requests_out:
            raise ProtocolError(
                f"reject for piece {message.index} offset {message.begin} "
                f"({message.length} bytes), which was never requested"
            )
        del self.requests_out[request]
        return True

    # -- sending ------------------------------------------------------------------

    def _send_choke(self, message: Choke) -> list[Message]:
        """BEP 6: choke first, then reject what will not be served."""

        self.am_choking = True
        dropped = [r for r in self.requests_in if r.index not in self.allowed_fast_out]
        for request in dropped:
            del self.requests_in[request]
        if not self.fast:
            return []
        return [_reject(request) for request in dropped]

    def _send_flag(self, message: Unchoke | Interested | NotInterested) -> None:
        if isinstance(message, Unchoke):
            self.am_choking = False
        else:
            self.am_interested = isinstance(message, Interested)

    def _send_bitfield(self, message: HaveBitfield) -> None:
        if self.piece_count is None:
            raise LocalProtocolError("cannot send a bitfield before the piece count is known")
        try:
            Bitfield.from_wire(message.bits, self.piece_count)
        except BitfieldError as error:
            raise LocalProtocolError(f"cannot send this bitfield: {error}") from None

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
        request = _request(message)
        if request not in self.requests_out:
            raise LocalProtocolError(f"cannot cancel {request}: it is not outstanding")
        if not self.fast:  # with BEP 6 the peer still answers: piece or reject
            del self.requests_out[request]

    def _send_answer(self, message: Piece | RejectRequest) -> None:
        request = _request(message)
        if request not in self.requests_in:
            raise LocalProtocolError(f"cannot answer {request}: the peer has not asked for it")
        del self.requests_in[request]


_Receiver = Callable[[Exchange, Any], bool]
_Sender = Callable[[Exchange, Any], list[Message] | None]

_RECEIVE: dict[type, _Receiver] = {
    Choke: Exchange._received_choke,
    Unchoke: Exchange._received_flag,
    Interested: Exchange._received_flag,
    NotInterested: Exchange._received_flag,
    Have: Exchange._received_index,
    SuggestPiece: Exchange._received_index,
    AllowedFast: Exchange._received_index,
    Request: Exchange._received_request,
    Cancel: Exchange._received_cancel,
    Piece: Exchange._received_piece,
    RejectRequest: Exchange._received_reject,
}
"""Receive rules: update state, return whether the message is passed on as an event."""

_SEND: dict[type, _Sender] = {
    Choke: Exchange._send_choke,
    Unchoke: Exchange._send_flag,
    Interested: Exchange._send_flag,
    NotInterested: Exchange._send_flag,
    HaveBitfield: Exchange._send_bitfield,
    Have: Exchange._send_index,
    SuggestPiece: Exchange._send_index,
    AllowedFast: Exchange._send_index,
    Request: Exchange._send_request,
    Cancel: Exchange._send_cancel,
    Piece: Exchange._send_answer,
    RejectRequest: Exchange._send_answer,
}
"""Send rules: check the message is legal now (raise otherwise), update state, and
return any messages that must follow it."""
