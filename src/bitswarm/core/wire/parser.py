"""Cutting the post-handshake byte stream into messages (BEP 3, 5, 6, 10).

Theory of operation
-------------------
Bytes arrive in whatever pieces TCP hands over: :meth:`MessageParser.receive_data`
keeps each chunk as it came, and :meth:`MessageParser.next_message` returns the
next complete message, or ``None`` when more bytes are needed. Nothing is
parsed ahead of demand, so a caller that stops asking stops the work.

The stream is mostly ``piece`` messages, a GiB of blocks for a GiB
downloaded, so its bytes are copied once: a block is cut out of the chunk it
arrived in, and only a message that straddles two chunks is joined first (at
most one a chunk). A block is its own ``bytes``, not a view of its chunk: a
view would keep the whole chunk alive while the block waits for its piece, and
a peer that pads each block with a read's worth of keep-alives could make a
few MiB of buffered blocks hold hundreds.

The parser is bounded. As soon as the five header bytes (length prefix and id)
are in, the length is checked against what that id may carry:

* fixed-size messages (``have``, ``request``, ``port``, ...) must match exactly;
* ``piece`` may carry at most ``max_block`` bytes of data (16 KiB, BEP 3);
* ``bitfield`` must be exactly ``ceil(pieces / 8)`` bytes once the piece count
  is known, and at most ``max_extended`` before that (a magnet link's peer
  knows no piece count until it has the metadata);
* ``extended`` and unknown ids may carry at most ``max_extended`` bytes.

A length that breaks its bound raises :class:`ProtocolError` naming the
message and both numbers, before any payload is buffered, so a forged prefix
of four gigabytes costs nothing. The buffer therefore never holds more than
one maximal message plus the last chunk received. After an error the parser
is spent: every later call raises the same error.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import NoReturn

from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError, wire_length
from bitswarm.core.swarm.pieces import BLOCK_SIZE
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import (
    MESSAGE_TYPES,
    PIECE_HEADER,
    KeepAlive,
    Message,
    MessageId,
    Piece,
    decode,
    describe,
)

DEFAULT_MAX_EXTENDED = 1024 * 1024
"""Largest ``extended`` (or unknown) payload accepted: BEP 9 metadata pieces are 16 KiB,
BEP 11 PEX and extension handshakes far less; 1 MiB leaves room and bounds memory."""

_LENGTH = struct.Struct(">I")
_PIECE_ID = int(MessageId.PIECE)
_PIECE_HEADER_SIZE = 1 + PIECE_HEADER.size
"""Bytes of a piece message's length that precede its block: the id, index and begin."""
_KEEP_ALIVE = KeepAlive()
_MERGE = 512
"""Reads shorter than this join the chunk before them while it is short too: a peer that
trickles a message a byte a read would otherwise cost a chunk's overhead per byte."""


class MessageParser:
    """Incremental, bounded parser for the message stream that follows the handshake."""

    def __init__(
        self,
        piece_count: int | None = None,
        *,
        max_block: int = BLOCK_SIZE,
        max_extended: int = DEFAULT_MAX_EXTENDED,
    ) -> None:
        self.piece_count = piece_count
        """Pieces in the torrent, or ``None`` until the metadata is known (BEP 9)."""
        self.max_block = max_block
        self.max_extended = max_extended
        self._chunks: deque[memoryview] = deque()
        """The bytes received and not yet parsed, as they came; the first from ``_start``."""
        self._start = 0
        self._buffered = 0
        self._offset = 0
        """Stream offset of the next message, so errors can say where."""
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as messages."""

        return self._buffered

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if type(data) is not bytes:  # the caller may reuse its buffer: keep a copy
            data = bytes(data)
        chunks = self._chunks
        if chunks and len(data) < _MERGE and len(chunks[-1]) < _MERGE:
            chunks[-1] = memoryview(bytes(chunks[-1]) + data)  # trickled bytes: one chunk
        else:
            chunks.append(memoryview(data))
        self._buffered += len(data)

    def next_message(self) -> Message | None:
        """The next complete message, or ``None`` until more data arrives."""

        if self._error is not None:
            raise self._error
        available = self._buffered
        if available < 4:
            return None
        chunk, start = self._chunks[0], self._start
        header = 5 if available >= 5 else 4
        if len(chunk) - start < header:  # the header straddles two chunks
            chunk, start = self._join(header), 0
        (length,) = _LENGTH.unpack_from(chunk, start)
        if length == 0:
            self._consume(4)
            return _KEEP_ALIVE
        if available < 5:
            return None
        message_id = chunk[start + 4]
        block_size = length - _PIECE_HEADER_SIZE
        if message_id != _PIECE_ID or not 0 < block_size <= self.max_block:
            self._check_length(message_id, length - 1)
        size = 4 + length
        if available < size:
            return None
        if len(chunk) - start < size:
            chunk, start = self._join(size), 0
        end = start + size
        if message_id == _PIECE_ID and 0 < block_size <= self.max_block:
            # most of the stream: the block is copied out of its chunk, and only it
            index, begin = PIECE_HEADER.unpack_from(chunk, start + 5)
            message: Message = Piece(index, begin, bytes(chunk[end - block_size : end]))
        else:
            payload = bytes(chunk[start + 5 : end])
            if message_id == MessageId.BITFIELD and self.piece_count is not None:
                self._check_bitfield(payload, self.piece_count)
            message = decode(message_id, payload)
        self._consume(size)
        return message

    def _join(self, size: int) -> memoryview:
        """Make the first ``size`` buffered bytes one chunk (they straddle chunks): copied
        out of the chunks they span, and only those bytes."""

        chunks, parts, missing = self._chunks, [], size
        first = chunks.popleft()[self._start :]
        while True:
            part = first[:missing]
            parts.append(part)
            missing -= len(part)
            if not missing:
                break
            first = chunks.popleft()
        if len(part) < len(first):
            chunks.appendleft(first[len(part) :])
        joined = memoryview(b"".join(parts))
        chunks.appendleft(joined)
        self._start = 0
        return joined

    def _consume(self, size: int) -> None:
        self._start += size
        self._buffered -= size
        self._offset += size
        if self._start == len(self._chunks[0]):
            self._chunks.popleft()
            self._start = 0

    def next_messages(self) -> list[Message]:
        """Every complete message buffered, in order: :meth:`next_message` until ``None``.

        A malformed message ends the list; if good ones came before it they are
        returned, and its :class:`ProtocolError` is raised by the next call."""

        messages: list[Message] = []
        next_message = self.next_message
        try:
            while (message := next_message()) is not None:
                messages.append(message)
        except ProtocolError:
            if not messages:
                raise
        return messages

    def _fail(self, reason: str) -> NoReturn:
        where = self._offset
        self._error = ProtocolError(f"{reason} (message at stream byte {where})")
        raise self._error

    def _check_length(self, message_id: int, size: int) -> None:
        low, high = self._payload_bounds(message_id)
        if low <= size <= high:
            return
        if low == high:
            expected = f"{low} bytes"
        elif size < low:
            expected = f"at least {low} bytes"
        else:
            expected = f"at most {high} bytes"
        self._fail(f"{describe(message_id)}: payload of {size} bytes, expected {expected}")

    def _payload_bounds(self, message_id: int) -> tuple[int, int]:
        cls = MESSAGE_TYPES.get(message_id)
        if cls is None or message_id == MessageId.EXTENDED:
            return (0 if cls is None else cls.MIN_PAYLOAD), self.max_extended
        if cls.PAYLOAD_SIZE is not None:
            return cls.PAYLOAD_SIZE, cls.PAYLOAD_SIZE
        if message_id == MessageId.PIECE:
            return cls.MIN_PAYLOAD, cls.MIN_PAYLOAD - 1 + self.max_block
        if self.piece_count is None:  # a bitfield before the metadata is known
            return 0, self.max_extended
        size = wire_length(self.piece_count)
        return size, size

    def _check_bitfield(self, payload: bytes, piece_count: int) -> None:
        try:
            Bitfield.from_wire(payload, piece_count)
        except BitfieldError as error:
            self._fail(f"bitfield (5): {error}")
