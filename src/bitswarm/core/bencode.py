"""Bencode, the serialisation of torrents, tracker replies and DHT messages (BEP 3).

Four types: integers ``i42e``, byte strings ``4:spam``, lists ``l...e`` and
dictionaries ``d...e`` whose keys are byte strings in sorted order.

Theory of operation
-------------------
The decoder is a recursive descent over the input with an explicit depth bound,
so hostile input cannot exhaust the stack. Every length is checked against the
bytes actually present before anything is sliced, so a forged length never
allocates, and an integer literal is bounded before it is converted. All
failures raise :class:`BencodeError`, which carries the reason and the byte
offset of the token at fault.

*Strict* decoding (the default) accepts only the canonical form: no leading
zeros, no ``-0``, keys sorted and unique, nothing after the value. That is what
a tracker or a peer must send. *Lenient* decoding additionally accepts
dictionaries with unsorted keys, which real ``.torrent`` files sometimes have;
everything else stays strict, and duplicate keys are refused in both modes
because they make a document ambiguous.

Because a lenient document does not survive a decode/encode round trip byte for
byte, the info-hash must be taken over the original bytes:
:func:`decode_with_spans` returns the byte span of each top-level value.

Two implementations
-------------------
This module is the reference implementation, in pure Python. A C accelerator,
``bitswarm.core._bencode``, implements the same decoder and encoder with the
same errors (reason and offset); it is used when it was built, which makes
decoding a large torrent several times faster. :data:`IMPLEMENTATION` names the
one in use, and :data:`PYTHON` / :data:`ACCELERATED` are both codecs, so tests
can hold them to each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

Value: TypeAlias = "int | bytes | list[Value] | dict[bytes, Value]"
"""A decoded bencode value."""

Encodable: TypeAlias = (
    "int | bytes | bytearray | memoryview | str"
    " | Sequence[Encodable] | Mapping[bytes, Encodable] | Mapping[str, Encodable]"
    " | Mapping[bytes | str, Encodable]"
)
"""What :func:`encode` accepts: decoded values, plus ``str`` (as UTF-8) and tuples."""

MAX_DEPTH = 200
"""Deepest nesting of lists and dictionaries accepted (v2 file trees nest by path depth)."""

DEPTH_CEILING = 400
"""Largest ``max_depth`` a caller may ask for: the decoders recurse once per level."""

MAX_INT_DIGITS = 128
"""Most digits an integer literal may have; a longer one is refused before conversion."""

MAX_LENGTH_DIGITS = 20
"""Most digits a string length may have (any longer length exceeds every input)."""

Span = tuple[int, int]
_Put = Callable[[bytes], object]
_DecodeFn = Callable[[bytes, bool, int, int, "dict[bytes, Span] | None"], Value]
_EncodeFn = Callable[[object, int], bytes]

_DIGITS = frozenset(b"0123456789")


class BencodeError(ValueError):
    """Malformed bencode: ``offset`` is the byte at which the fault was found."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"bencode: {message} at byte {offset}")
        self.reason = message
        self.offset = offset


class _Decoder:
    """One decoding pass over ``data``; methods return ``(value, end_offset)``."""

    __slots__ = ("data", "end", "max_depth", "max_int_digits", "strict")

    def __init__(self, data: bytes, strict: bool, max_depth: int, max_int_digits: int) -> None:
        self.data = data
        self.end = len(data)
        self.strict = strict
        self.max_depth = max_depth
        self.max_int_digits = max_int_digits

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
        colon = data.find(b":", i, i + MAX_LENGTH_DIGITS + 1)
        if colon < 0:
            head = data[i : i + MAX_LENGTH_DIGITS + 1]
            if not head.isdigit():
                raise BencodeError("malformed string length", i)
            if len(head) > MAX_LENGTH_DIGITS:
                raise BencodeError(f"string length longer than {MAX_LENGTH_DIGITS} digits", i)
            raise BencodeError("truncated string length", i)
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
        data, limit = self.data, self.max_int_digits
        # The longest valid body is a sign and ``limit`` digits; look one byte further.
        window = i + limit + 3
        e = data.find(b"e", i + 1, window)
        text = data[i + 1 : window if e < 0 else e]
        digits = text[1:] if text[:1] == b"-" else text
        if (e < 0 and not digits) or digits.isdigit():
            if len(digits) > limit:
                raise BencodeError(f"integer longer than {limit} digits", i)
            if e < 0:
                raise BencodeError("truncated integer", i)
            if digits[0] == 0x30 and (len(digits) > 1 or text[0] == 0x2D):
                raise BencodeError(f"non-canonical integer {text[:40]!r}", i)
            return int(text), e + 1
        raise BencodeError(f"malformed integer {text[:40]!r}", i)

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


def _decode_python(
    data: bytes, strict: bool, max_depth: int, max_int_digits: int, spans: dict[bytes, Span] | None
) -> Value:
    """Decode all of ``data``; with ``spans``, ``data`` must hold a dictionary."""
    decoder = _Decoder(data, strict, max_depth, max_int_digits)
    if spans is None:
        value, stop = decoder.value(0, 0)
    else:
        value, stop = decoder.dict_with_spans(0, 1, spans)
    if stop != len(data):
        raise BencodeError(f"{len(data) - stop} bytes of trailing data", stop)
    return value


def _encode_python(value: object, max_depth: int) -> bytes:
    out: list[bytes] = []
    _encode_into(value, out.append, 0, max_depth)
    return b"".join(out)


def _encode_into(value: object, put: _Put, depth: int, max_depth: int) -> None:
    """Append ``value``, which sits inside ``depth`` lists and dictionaries, to the output."""
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
        _check_nesting(depth, max_depth)
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
            _encode_into(items[raw_key], put, depth + 1, max_depth)
        put(b"e")
    elif isinstance(value, list | tuple):
        _check_nesting(depth, max_depth)
        put(b"l")
        for item in value:
            _encode_into(item, put, depth + 1, max_depth)
        put(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


def _check_nesting(depth: int, max_depth: int) -> None:
    """A container inside ``depth`` others: refuse it where the decoder would (cycles too)."""
    if depth >= max_depth:
        raise ValueError(f"bencode: nesting deeper than {max_depth}")


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"bencode input must be bytes, not {type(data).__name__}")


def _checked_depth(max_depth: int) -> int:
    if not 0 <= max_depth <= DEPTH_CEILING:
        raise ValueError(f"max_depth must be between 0 and {DEPTH_CEILING}, not {max_depth}")
    return max_depth


@dataclass(frozen=True, slots=True)
class Codec:
    """One implementation of the codec; the module's functions are those of the active one."""

    name: str
    decoder: _DecodeFn
    encoder: _EncodeFn

    def decode(
        self,
        data: bytes | bytearray | memoryview,
        *,
        strict: bool = True,
        max_depth: int = MAX_DEPTH,
    ) -> Value:
        """Decode one bencoded value that spans the whole of ``data``.

        Raises :class:`BencodeError` naming the fault and its offset.
        """
        raw = _as_bytes(data)
        return self.decoder(raw, strict, _checked_depth(max_depth), MAX_INT_DIGITS, None)

    def decode_with_spans(
        self,
        data: bytes | bytearray | memoryview,
        *,
        strict: bool = True,
        max_depth: int = MAX_DEPTH,
    ) -> tuple[dict[bytes, Value], dict[bytes, Span]]:
        """Decode a top-level dictionary and the ``(start, end)`` byte span of each value.

        ``data[start:end]`` is the value exactly as it was sent, which is what the
        info-hash covers even when the document is not canonical.
        """
        raw = _as_bytes(data)
        depth = _checked_depth(max_depth)
        if not raw:
            raise BencodeError("truncated input, expected a dictionary", 0)
        if raw[0] != 0x64:
            raise BencodeError("expected a dictionary", 0)
        spans: dict[bytes, Span] = {}
        value = self.decoder(raw, strict, depth, MAX_INT_DIGITS, spans)
        assert isinstance(value, dict)
        return value, spans

    def encode(self, value: Encodable) -> bytes:
        """Encode ``value`` canonically (dictionary keys sorted as raw bytes).

        ``str`` is encoded as UTF-8. Raises ``TypeError`` for anything that has no
        bencode form (floats, ``None``, booleans) and ``ValueError`` for a dictionary
        whose keys collide once encoded, or for nesting deeper than :data:`MAX_DEPTH`.
        """
        return self.encoder(value, MAX_DEPTH)


def _accelerated() -> Codec | None:
    try:
        from bitswarm.core import _bencode
    except ImportError:
        return None
    _bencode.configure(BencodeError, Mapping)
    return Codec("c", _bencode.decode, _bencode.encode)


PYTHON = Codec("python", _decode_python, _encode_python)
"""The pure-Python reference implementation."""

ACCELERATED = _accelerated()
"""The C implementation, or ``None`` when ``bitswarm.core._bencode`` was not built."""

ACTIVE = ACCELERATED or PYTHON
IMPLEMENTATION = ACTIVE.name
"""``"c"`` when the accelerator is in use, else ``"python"``."""

decode = ACTIVE.decode
decode_with_spans = ACTIVE.decode_with_spans
encode = ACTIVE.encode
