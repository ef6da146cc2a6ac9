"""Bencode, the serialisation of torrents, tracker replies and DHT messages (BEP 3).

Four types: integers ``i42e``, byte strings ``4:spam``, lists ``l...e`` and
dictionaries ``d...e`` whose keys are byte strings in sorted order.

Theory of operation
-------------------
The decoder is a recursive descent over the input with an explicit depth bound,
so hostile input cannot exhaust the interpreter stack. Every length is checked
against the bytes actually present before anything is sliced, so a forged
length never allocates. All failures raise :class:`BencodeError`, which carries
the byte offset of the fault.

*Strict* decoding (the default) accepts only the canonical form: no leading
zeros, no ``-0``, keys sorted and unique, nothing after the value. That is what
a tracker or a peer must send. *Lenient* decoding additionally accepts
dictionaries with unsorted keys, which real ``.torrent`` files sometimes have;
everything else stays strict, and duplicate keys are refused in both modes
because they make a document ambiguous.

Because a lenient document does not survive a decode/encode round trip byte for
byte, the info-hash must be taken over the original bytes:
:func:`decode_with_spans` returns the byte span of each top-level value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

Value: TypeAlias = "int | bytes | list[Value] | dict[bytes, Value]"
"""A decoded bencode value."""

Encodable: TypeAlias = (
    "int | bytes | bytearray | memoryview | str"
    " | Sequence[Encodable] | Mapping[bytes | str, Encodable]"
)
"""What :func:`encode` accepts: decoded values, plus ``str`` (as UTF-8) and tuples."""

MAX_DEPTH = 200
"""Deepest nesting of lists and dictionaries accepted (v2 file trees nest by path depth)."""

MAX_INT_DIGITS = 128
"""Longest integer literal accepted; a longer one is refused before conversion."""

Span = tuple[int, int]
_Put = Callable[[bytes], object]

_DIGITS = frozenset(b"0123456789")


class BencodeError(ValueError):
    """Malformed bencode: ``offset`` is the byte at which the fault was found."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"bencode: {message} at byte {offset}")
        self.reason = message
        self.offset = offset


class _Decoder:
    """One decoding pass over ``data``; methods return ``(value, end_offset)``."""

    __slots__ = ("data", "end", "max_depth", "strict")

    def __init__(self, data: bytes, strict: bool, max_depth: int) -> None:
        self.data = data
        self.end = len(data)
        self.strict = strict
        self.max_depth = max_depth

    def value(self, i: int, depth: int) -> tuple[Value, int]:
        if i >= self.end:
            raise BencodeError("truncated input, expected a value", i)
        c = self.data[i]
        if c in _DIGITS:
            return self.string(i)
        if c == 0x69:  # i
            return self.integer(i)
        if c == 0x6C:  # l
            return self.sequence(i, depth + 1)
        if c == 0x64:  # d
            return self.dictionary(i, depth + 1)
        raise BencodeError(f"unexpected byte {bytes([c])!r}, expected a value", i)

    def string(self, i: int) -> tuple[bytes, int]:
        data = self.data
        colon = data.find(b":", i, i + 21)
        if colon < 0:
            if data[i : i + 21].isdigit() and i + 21 > self.end:
                raise BencodeError("truncated string length", i)
            raise BencodeError("malformed string length", i)
        digits = data[i:colon]
        if not digits.isdigit():
            raise BencodeError("malformed string length", i)
        if len(digits) > 1 and digits[0] == 0x30:
            raise BencodeError("string length with a leading zero", i)
        start = colon + 1
        stop = start + int(digits)
        if stop > self.end:
            raise BencodeError(
                f"truncated string: length {int(digits)} but {self.end - start} bytes left", i
            )
        return data[start:stop], stop

    def integer(self, i: int) -> tuple[int, int]:
        data = self.data
        e = data.find(b"e", i + 1, i + MAX_INT_DIGITS + 3)
        if e < 0:
            if data.find(b"e", i + 1) < 0:
                raise BencodeError("truncated integer", i)
            raise BencodeError(f"integer longer than {MAX_INT_DIGITS} digits", i)
        text = data[i + 1 : e]
        digits = text[1:] if text[:1] == b"-" else text
        if not digits.isdigit():
            raise BencodeError(f"malformed integer {text[:40]!r}", i)
        if digits[0] == 0x30 and (len(digits) > 1 or text[0] == 0x2D):
            raise BencodeError(f"non-canonical integer {text[:40]!r}", i)
        return int(text), e + 1

    def sequence(self, i: int, depth: int) -> tuple[list[Value], int]:
        if depth > self.max_depth:
            raise BencodeError(f"nesting deeper than {self.max_depth}", i)
        data, end = self.data, self.end
        items: list[Value] = []
        append = items.append
        i += 1
        while i < end and data[i] != 0x65:  # e
            item, i = self.value(i, depth)
            append(item)
        if i >= end:
            raise BencodeError("truncated list", i)
        return items, i + 1

    def dictionary(self, i: int, depth: int) -> tuple[dict[bytes, Value], int]:
        return self.dict_with_spans(i, depth, None)

    def dict_with_spans(
        self, i: int, depth: int, spans: dict[bytes, Span] | None
    ) -> tuple[dict[bytes, Value], int]:
        if depth > self.max_depth:
            raise BencodeError(f"nesting deeper than {self.max_depth}", i)
        data, end, strict = self.data, self.end, self.strict
        result: dict[bytes, Value] = {}
        previous: bytes | None = None
        i += 1
        while i < end and data[i] != 0x65:  # e
            if data[i] not in _DIGITS:
                raise BencodeError("dictionary key is not a byte string", i)
            key_at = i
            key, i = self.string(i)
            if previous is not None and key <= previous:
                if key == previous or key in result:
                    raise BencodeError(f"duplicate dictionary key {key[:40]!r}", key_at)
                if strict:
                    raise BencodeError(f"dictionary key {key[:40]!r} out of order", key_at)
            elif key in result:
                raise BencodeError(f"duplicate dictionary key {key[:40]!r}", key_at)
            start = i
            result[key], i = self.value(i, depth)
            if spans is not None:
                spans[key] = (start, i)
            previous = key
        if i >= end:
            raise BencodeError("truncated dictionary", i)
        return result, i + 1

    def whole(self, value: Value, stop: int) -> Value:
        if stop != self.end:
            raise BencodeError(f"{self.end - stop} bytes of trailing data", stop)
        return value


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"bencode input must be bytes, not {type(data).__name__}")


def decode(
    data: bytes | bytearray | memoryview, *, strict: bool = True, max_depth: int = MAX_DEPTH
) -> Value:
    """Decode one bencoded value that spans the whole of ``data``.

    Raises :class:`BencodeError` naming the fault and its offset.
    """
    decoder = _Decoder(_as_bytes(data), strict, max_depth)
    value, stop = decoder.value(0, 0)
    return decoder.whole(value, stop)


def decode_with_spans(
    data: bytes | bytearray | memoryview, *, strict: bool = True, max_depth: int = MAX_DEPTH
) -> tuple[dict[bytes, Value], dict[bytes, Span]]:
    """Decode a top-level dictionary and the ``(start, end)`` byte span of each value.

    ``data[start:end]`` is the value exactly as it was sent, which is what the
    info-hash covers even when the document is not canonical.
    """
    raw = _as_bytes(data)
    decoder = _Decoder(raw, strict, max_depth)
    if not raw:
        raise BencodeError("truncated input, expected a dictionary", 0)
    if raw[0] != 0x64:
        raise BencodeError("expected a dictionary", 0)
    spans: dict[bytes, Span] = {}
    value, stop = decoder.dict_with_spans(0, 1, spans)
    decoder.whole(value, stop)
    return value, spans


def encode(value: Encodable) -> bytes:
    """Encode ``value`` canonically (dictionary keys sorted as raw bytes).

    ``str`` is encoded as UTF-8. Raises ``TypeError`` for anything that has no
    bencode form (floats, ``None``, booleans) and ``ValueError`` for a dictionary
    whose keys collide once encoded.
    """
    out: list[bytes] = []
    _encode_into(value, out.append, 0)
    return b"".join(out)


def _encode_into(value: object, put: _Put, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"bencode: nesting deeper than {MAX_DEPTH}")
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        put(b"%d:" % len(raw))
        put(raw)
    elif isinstance(value, str):
        raw = value.encode()
        put(b"%d:" % len(raw))
        put(raw)
    elif isinstance(value, bool):
        raise TypeError("bencode has no booleans; use 0 or 1")
    elif isinstance(value, int):
        put(b"i%de" % value)
    elif isinstance(value, Mapping):
        put(b"d")
        items: dict[bytes, object] = {}
        for key, item in value.items():
            raw_key = key.encode() if isinstance(key, str) else key
            if not isinstance(raw_key, bytes):
                raise TypeError(f"bencode dictionary keys must be bytes or str, not {type(key)}")
            if raw_key in items:
                raise ValueError(f"bencode: duplicate dictionary key {raw_key!r}")
            items[raw_key] = item
        for raw_key in sorted(items):
            put(b"%d:" % len(raw_key))
            put(raw_key)
            _encode_into(items[raw_key], put, depth + 1)
        put(b"e")
    elif isinstance(value, list | tuple):
        put(b"l")
        for item in value:
            _encode_into(item, put, depth + 1)
        put(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")
