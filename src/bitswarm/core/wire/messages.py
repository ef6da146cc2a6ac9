"""Peer wire messages: BEP 3, BEP 5's ``port``, BEP 6 fast and BEP 10 ``extended``.

Every message after the handshake is ``<length:u32><id:u8><payload>``, all
integers four bytes big-endian; a length of zero is a keep-alive. Each message
is a frozen dataclass that encodes itself (:meth:`encode`) and is built from
its payload (:meth:`from_payload`). The payload size a type accepts is stated
on the class (``PAYLOAD_SIZE`` for fixed sizes, ``MIN_PAYLOAD`` otherwise) so
that :mod:`~bitswarm.core.wire.parser` can refuse a wrong length prefix before
it buffers a single payload byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar, Self

_HEADER = struct.Struct(">IB")
_INDEX = struct.Struct(">I")
_BLOCK = struct.Struct(">III")
PIECE_HEADER = struct.Struct(">II")
"""A piece message's index and begin, before its block."""
_PORT = struct.Struct(">H")


class MessageId(IntEnum):
    """The message ids of BEP 3, BEP 5 (port), BEP 6 (fast) and BEP 10 (extended)."""

    CHOKE = 0
    UNCHOKE = 1
    INTERESTED = 2
    NOT_INTERESTED = 3
    HAVE = 4
    BITFIELD = 5
    REQUEST = 6
    PIECE = 7
    CANCEL = 8
    PORT = 9  # BEP 5
    SUGGEST_PIECE = 0x0D  # BEP 6
    HAVE_ALL = 0x0E
    HAVE_NONE = 0x0F
    REJECT_REQUEST = 0x10
    ALLOWED_FAST = 0x11
    EXTENDED = 20  # BEP 10


def _frame(message_id: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(len(payload) + 1, message_id) + payload


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A zero length prefix: "still here"."""

    def encode(self) -> bytes:
        return b"\x00\x00\x00\x00"


@dataclass(frozen=True, slots=True)
class _Bare:
    """A message that is its id alone."""

    ID: ClassVar[MessageId]
    PAYLOAD_SIZE: ClassVar[int | None] = 0
    MIN_PAYLOAD: ClassVar[int] = 0

    def encode(self) -> bytes:
        return _HEADER.pack(1, self.ID)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls()


@dataclass(frozen=True, slots=True)
class Choke(_Bare):
    ID = MessageId.CHOKE


@dataclass(frozen=True, slots=True)
class Unchoke(_Bare):
    ID = MessageId.UNCHOKE


@dataclass(frozen=True, slots=True)
class Interested(_Bare):
    ID = MessageId.INTERESTED


@dataclass(frozen=True, slots=True)
class NotInterested(_Bare):
    ID = MessageId.NOT_INTERESTED


@dataclass(frozen=True, slots=True)
class HaveAll(_Bare):
    """BEP 6: the sender has every piece (replaces the bitfield)."""

    ID = MessageId.HAVE_ALL


@dataclass(frozen=True, slots=True)
class HaveNone(_Bare):
    """BEP 6: the sender has no piece (replaces the bitfield)."""

    ID = MessageId.HAVE_NONE


class _Packed:
    """A message whose payload is its integer fields, in order, packed by ``LAYOUT``."""

    __slots__ = ()
    ID: ClassVar[MessageId]
    LAYOUT: ClassVar[struct.Struct]
    __match_args__: ClassVar[tuple[str, ...]]
    PAYLOAD_SIZE: ClassVar[int | None]
    MIN_PAYLOAD: ClassVar[int]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if hasattr(cls, "LAYOUT"):
            cls.PAYLOAD_SIZE = cls.MIN_PAYLOAD = cls.LAYOUT.size

    if TYPE_CHECKING:  # the dataclass below each subclass writes the real one

        def __init__(self, *fields: int) -> None: ...

    def encode(self) -> bytes:
        fields = [getattr(self, name) for name in self.__match_args__]
        return _frame(self.ID, self.LAYOUT.pack(*fields))

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls(*cls.LAYOUT.unpack(payload))


_INDEX_FRAME = struct.Struct(">IBI")
_BLOCK_FRAME = struct.Struct(">IBIII")
_PIECE_FRAME = struct.Struct(">IBII")
"""Length prefix and id with the fields after them, packed in one call: the frames of the
commonest messages (a piece index: ``have``; a block span: ``request``; and the header of a
``piece``)."""


@dataclass(frozen=True, slots=True)
class _PieceIndex(_Packed):
    """A message whose payload is one piece index."""

    LAYOUT = _INDEX

    index: int

    def encode(self) -> bytes:
        return _INDEX_FRAME.pack(5, self.ID, self.index)


@dataclass(frozen=True, slots=True)
class Have(_PieceIndex):
    """The sender finished and verified piece ``index``."""

    ID = MessageId.HAVE


@dataclass(frozen=True, slots=True)
class SuggestPiece(_PieceIndex):
    """BEP 6: "you might like to download this piece"."""

    ID = MessageId.SUGGEST_PIECE


@dataclass(frozen=True, slots=True)
class AllowedFast(_PieceIndex):
    """BEP 6: requests for this piece are served even while choked."""

    ID = MessageId.ALLOWED_FAST


@dataclass(frozen=True, slots=True)
class _BlockSpan(_Packed):
    """A message naming a block: piece ``index``, byte offset ``begin``, ``length`` bytes."""

    LAYOUT = _BLOCK

    index: int
    begin: int
    length: int

    def encode(self) -> bytes:
        return _BLOCK_FRAME.pack(13, self.ID, self.index, self.begin, self.length)


@dataclass(frozen=True, slots=True)
class Request(_BlockSpan):
    ID = MessageId.REQUEST


@dataclass(frozen=True, slots=True)
class Cancel(_BlockSpan):
    ID = MessageId.CANCEL


@dataclass(frozen=True, slots=True)
class RejectRequest(_BlockSpan):
    """BEP 6: the request with these fields will not be served."""

    ID = MessageId.REJECT_REQUEST


@dataclass(frozen=True, slots=True)
class Piece:
    """A block of data: ``block`` starts at byte ``begin`` of piece ``index``."""

    ID: ClassVar[MessageId] = MessageId.PIECE
    PAYLOAD_SIZE: ClassVar[int | None] = None
    MIN_PAYLOAD: ClassVar[int] = PIECE_HEADER.size + 1

    index: int
    begin: int
    block: bytes

    def encode(self) -> bytes:
        return self.header() + self.block

    def header(self) -> bytes:
        """The frame's bytes before the block: a vectored write sends the block uncopied."""

        length = 1 + PIECE_HEADER.size + len(self.block)
        return _PIECE_FRAME.pack(length, self.ID, self.index, self.begin)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        index, begin = PIECE_HEADER.unpack_from(payload)
        return cls(index, begin, payload[PIECE_HEADER.size :])

    @property
    def request(self) -> Request:
        """The request this block answers."""

        return Request(self.index, self.begin, len(self.block))


@dataclass(frozen=True, slots=True)
class HaveBitfield:
    """The ``bitfield`` message: wire bytes, high bit first (see ``swarm.bitfield``)."""

    ID: ClassVar[MessageId] = MessageId.BITFIELD
    PAYLOAD_SIZE: ClassVar[int | None] = None
    MIN_PAYLOAD: ClassVar[int] = 0

    bits: bytes

    def encode(self) -> bytes:
        return _frame(self.ID, self.bits)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls(payload)


@dataclass(frozen=True, slots=True)
class Port(_Packed):
    """BEP 5: the sender's DHT node listens on UDP ``port``."""

    ID = MessageId.PORT
    LAYOUT = _PORT

    port: int


@dataclass(frozen=True, slots=True)
class Extended:
    """BEP 10: extension message ``extended_id`` (0 = the extension handshake)."""

    ID: ClassVar[MessageId] = MessageId.EXTENDED
    PAYLOAD_SIZE: ClassVar[int | None] = None
    MIN_PAYLOAD: ClassVar[int] = 1

    extended_id: int
    payload: bytes

    def encode(self) -> bytes:
        return _frame(self.ID, bytes((self.extended_id,)) + self.payload)

    @classmethod
    def from_payload(cls, payload: bytes) -> Self:
        return cls(payload[0], payload[1:])


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A message id this implementation does not know; kept so the caller may log it.

    BEP 3 reserves no ids for private use and BEP 10 moved extensions into
    ``extended``, so an unknown id is skipped (within the size bound), not
    fatal: the connection stays usable, as newer messages (BEP 52's hash
    requests, for one) keep appearing.
    """

    message_id: int
    payload: bytes

    def encode(self) -> bytes:
        return _frame(self.message_id, self.payload)


KnownMessage = (
    Choke
    | Unchoke
    | Interested
    | NotInterested
    | Have
    | HaveBitfield
    | Request
    | Piece
    | Cancel
    | Port
    | SuggestPiece
    | HaveAll
    | HaveNone
    | RejectRequest
    | AllowedFast
    | Extended
)
"""The messages with an id this implementation understands."""

Message = KnownMessage | KeepAlive | UnknownMessage
"""Everything :class:`~bitswarm.core.wire.parser.MessageParser` can yield."""

MESSAGE_TYPES: dict[int, type[KnownMessage]] = {
    cls.ID: cls
    for cls in (
        Choke,
        Unchoke,
        Interested,
        NotInterested,
        Have,
        HaveBitfield,
        Request,
        Piece,
        Cancel,
        Port,
        SuggestPiece,
        HaveAll,
        HaveNone,
        RejectRequest,
        AllowedFast,
        Extended,
    )
}
"""Message id to class, for every id this implementation understands."""

FAST_MESSAGES = (SuggestPiece, HaveAll, HaveNone, RejectRequest, AllowedFast)
"""The BEP 6 messages: only valid when both handshakes set the fast bit."""


def describe(message_id: int) -> str:
    """A message id as people write it in logs and errors: ``request (6)``."""

    try:
        return f"{MessageId(message_id).name.lower().replace('_', ' ')} ({message_id})"
    except ValueError:
        return f"unknown message ({message_id})"


def decode(message_id: int, payload: bytes) -> Message:
    """Build the message for ``message_id`` from a payload whose size the parser checked."""

    cls = MESSAGE_TYPES.get(message_id)
    return UnknownMessage(message_id, payload) if cls is None else cls.from_payload(payload)
