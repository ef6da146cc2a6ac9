"""Bitfields: which pieces a peer has (BEP 3, the ``bitfield`` message).

BEP 3 lays a bitfield out high bit first: byte 0 holds pieces 0-7 from its
most significant bit down, and the spare bits after the last piece must be
zero. :class:`Bitfield` keeps exactly that wire layout in a ``bytearray``, so
going to and from the wire is a copy, and keeps a running count of set bits,
so "how many pieces" and "is this a seed" cost nothing. Bulk questions (what
does this peer have that we lack?) go through Python's arbitrary-precision
integers, which do them a machine word at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_SET_BITS: tuple[tuple[int, ...], ...] = tuple(
    tuple(bit for bit in range(8) if value & (0x80 >> bit)) for value in range(256)
)
"""For each byte value, the positions (0 = most significant) of its set bits."""


class BitfieldError(ValueError):
    """Wire bytes that are not a valid bitfield for the torrent's piece count."""


def wire_length(piece_count: int) -> int:
    """Bytes a bitfield of ``piece_count`` pieces takes on the wire."""

    return (piece_count + 7) // 8


class Bitfield:
    """A fixed-length set of piece indices, stored in BEP 3 wire order."""

    __slots__ = ("_bits", "_count", "_length")

    def __init__(self, length: int) -> None:
        if length < 0:
            raise ValueError(f"bitfield length must not be negative, got {length}")
        self._length = length
        self._bits = bytearray(wire_length(length))
        self._count = 0

    @classmethod
    def full(cls, length: int) -> Bitfield:
        """Every piece set: what a seed (or a BEP 6 ``have all``) has."""

        field = cls(length)
        if length:
            field._bits[:] = b"\xff" * len(field._bits)
            field._bits[-1] = _spare_mask(length) ^ 0xFF
        field._count = length
        return field

    @classmethod
    def from_wire(cls, data: bytes | bytearray | memoryview, length: int) -> Bitfield:
        """Parse a ``bitfield`` payload for a torrent of ``length`` pieces.

        The payload must be exactly ``ceil(length / 8)`` bytes and its spare
        bits must be zero; anything else raises :class:`BitfieldError`.
        """

        expected = wire_length(length)
        if len(data) != expected:
            raise BitfieldError(
                f"bitfield is {len(data)} bytes, expected {expected} for {length} pieces"
            )
        field = cls(length)
        field._bits[:] = data
        if expected and field._bits[-1] & _spare_mask(length):
            raise BitfieldError(
                f"bitfield has spare bits set after piece {length - 1} "
                f"(last byte {field._bits[-1]:#04x})"
            )
        field._count = int.from_bytes(field._bits, "big").bit_count()
        return field

    @classmethod
    def from_indices(cls, length: int, indices: Iterable[int]) -> Bitfield:
        field = cls(length)
        for index in indices:
            field.set(index)
        return field

    def to_wire(self) -> bytes:
        return bytes(self._bits)

    def copy(self) -> Bitfield:
        clone = Bitfield(self._length)
        clone._bits[:] = self._bits
        clone._count = self._count
        return clone

    def __len__(self) -> int:
        """The number of pieces the field covers (not the number set)."""

        return self._length

    def count(self) -> int:
        """The number of pieces set."""

        return self._count

    def all(self) -> bool:
        return self._count == self._length

    def none(self) -> bool:
        return self._count == 0

    def _check(self, index: int) -> None:
        if not 0 <= index < self._length:
            raise IndexError(f"piece {index} is outside a bitfield of {self._length} pieces")

    def __getitem__(self, index: int) -> bool:
        if not 0 <= index < self._length:  # _check, inline: the commonest question of all
            self._check(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and 0 <= index < self._length and self[index]

    def set(self, index: int) -> bool:
        """Set ``index``; return whether it was newly set."""

        if not 0 <= index < self._length:
            self._check(index)
        mask = 0x80 >> (index & 7)
        bits = self._bits
        if bits[index >> 3] & mask:
            return False
        bits[index >> 3] |= mask
        self._count += 1
        return True

    def clear(self, index: int) -> bool:
        """Clear ``index``; return whether it was set."""

        self._check(index)
        mask = 0x80 >> (index & 7)
        if not self._bits[index >> 3] & mask:
            return False
        self._bits[index >> 3] &= ~mask & 0xFF
        self._count -= 1
        return True

    def __iter__(self) -> Iterator[int]:
        """The set indices, ascending."""

        bits = self._bits  # indexed: mypyc cannot compile a loop over a bytearray
        for byte_index in range(len(bits)):
            value = bits[byte_index]
            if value:
                base = byte_index << 3
                for bit in _SET_BITS[value]:
                    yield base + bit

    def missing(self) -> Iterator[int]:
        """The clear indices, ascending."""

        bits = self._bits  # indexed, as in __iter__
        for byte_index in range(len(bits)):
            value = bits[byte_index]
            if value != 0xFF:
                base = byte_index << 3
                for bit in _SET_BITS[value ^ 0xFF]:
                    if base + bit < self._length:
                        yield base + bit

    def as_int(self) -> int:
        """The field as one integer, piece 0 in the most significant bit."""

        return int.from_bytes(self._bits, "big")

    def __and__(self, other: Bitfield) -> Bitfield:
        """The pieces set in both, a word at a time (what a peer has of what we want)."""

        if self._length != other._length:
            raise ValueError(f"bitfields of {self._length} and {other._length} pieces")
        both = self.as_int() & other.as_int()
        field = Bitfield(self._length)
        field._bits[:] = both.to_bytes(len(self._bits), "big")
        field._count = both.bit_count()
        return field

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bitfield):
            return NotImplemented
        return self._length == other._length and self._bits == other._bits

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Bitfield({self._length}, {self._count} set)"

    def to_string(self) -> str:
        """``"1100..."``: one character a piece, as tests write state."""

        return "".join("1" if self[i] else "0" for i in range(self._length))

    @classmethod
    def from_string(cls, text: str) -> Bitfield:
        """The inverse of :meth:`to_string`: ``"0011000"``, one character a piece."""

        if set(text) - {"0", "1"}:
            raise ValueError(f"bitfield string may hold only 0 and 1, got {text!r}")
        return cls.from_indices(len(text), (i for i, c in enumerate(text) if c == "1"))


def _spare_mask(length: int) -> int:
    """The bits of the last byte that lie past the last piece."""

    used = length & 7
    return 0 if used == 0 else 0xFF >> used
