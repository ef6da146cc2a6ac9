"""HTTP announce and scrape queries, parsed from the raw bytes of the URL (BEP 3, 7, 23, 48).

``info_hash`` and ``peer_id`` are binary, percent-encoded byte by byte, so the
query must be split and unescaped as bytes: a text decoder would mangle them.
Every fault raises :class:`~bitswarm.core.tracker.errors.QueryError` naming the
parameter, which the server turns into a bencoded ``failure reason``.

Parameters a tracker does not use (``key``, ``supportcrypto``, ``corrupt``,
...) are ignored; ``event=paused`` (BEP 21) counts as a regular announce. A
parameter that matters and appears twice is refused, as a client that sends
two ports is broken, except ``info_hash`` in a scrape, which repeats by design.
"""

from __future__ import annotations

import re
from binascii import a2b_qp, unhexlify
from dataclasses import dataclass

from bitswarm.core.tracker.errors import QueryError
from bitswarm.core.tracker.model import (
    DEFAULT_NUMWANT,
    INFO_HASH_SIZE,
    MAX_NUMWANT,
    PEER_ID_SIZE,
    Event,
)

MAX_QUERY_BYTES = 8192
"""Longest query accepted; a real announce is about 300 bytes."""

MAX_SCRAPE_HASHES = 100
"""Info-hashes one HTTP scrape may ask for."""

MAX_COUNTER = (1 << 63) - 1
"""Largest ``uploaded``/``downloaded``/``left`` accepted."""

EVENTS = {
    b"": Event.NONE,
    b"started": Event.STARTED,
    b"stopped": Event.STOPPED,
    b"completed": Event.COMPLETED,
    b"paused": Event.NONE,
}
"""The ``event`` values a client may send (``paused`` is BEP 21's)."""
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_HEX_BYTE = {
    bytes((high, low)): unhexlify(bytes((high, low)))
    for high in b"0123456789abcdefABCDEF"
    for low in b"0123456789abcdefABCDEF"
}
MAX_DIGITS = 20
"""Longest decimal value accepted (2**64 has 20 digits)."""
_DIGITS = re.compile(rb"[0-9]{1,%d}" % MAX_DIGITS)
_SINGLE = frozenset(
    {b"info_hash", b"peer_id", b"port", b"uploaded", b"downloaded", b"left", b"event",
     b"compact", b"no_peer_id", b"numwant", b"num_want", b"ip"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnnounceQuery:
    """A checked announce query; ``numwant`` is already defaulted and capped."""

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: Event
    numwant: int
    compact: bool
    no_peer_id: bool
    ip: str | None
    """The ``ip`` (or BEP 7 ``ipv4``/``ipv6``) the client claims; used only if allowed."""


def split_query(raw: bytes, single: frozenset[bytes] = _SINGLE) -> dict[bytes, list[bytes]]:
    """Percent-decode a raw query into name -> values; names in ``single`` may not repeat."""
    if len(raw) > MAX_QUERY_BYTES:
        raise QueryError(f"query of {len(raw)} bytes, longer than {MAX_QUERY_BYTES}", "query")
    params: dict[bytes, list[bytes]] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = _unescape(name, name) if b"%" in name else name
        decoded = _unescape(value, name) if b"%" in value else value
        values = params.setdefault(key, [])
        if values and key in single:
            raise QueryError("given more than once", name.decode("latin-1"))
        values.append(decoded)
    return params


def unescape_value(value: bytes) -> bytes:
    """``value`` percent-decoded, as :func:`split_query` decodes it; :class:`QueryError`
    for a malformed escape."""
    return _unescape(value, b"") if b"%" in value else value


def _unescape(part: bytes, name: bytes) -> bytes:
    """Percent-decode one name or value (holding a ``%``) of parameter ``name``."""
    bad = _BAD_ESCAPE.search(part)
    if bad:
        shown = name.decode("latin-1") or "(a parameter with no name)"
        raise QueryError(f"malformed percent escape at offset {bad.start()}", shown)
    if 3 * part.count(b"%") == len(part):  # every byte escaped, as clients send info_hash
        return unhexlify(part.replace(b"%", b""))
    if b"=" not in part:  # the escapes are checked above; quoted-printable's "=XX", in C
        return a2b_qp(part.replace(b"%", b"="))
    first, *rest = part.split(b"%")
    return first + b"".join([_HEX_BYTE[chunk[:2]] + chunk[2:] for chunk in rest])


def parse_announce(raw: bytes) -> AnnounceQuery:
    """Check an announce query (the part after ``?``, still percent-encoded)."""
    params = split_query(raw)
    asked = _optional(params, b"numwant") or _optional(params, b"num_want")
    numwant = DEFAULT_NUMWANT if asked is None else min(_digits(asked, "numwant"), MAX_NUMWANT)
    claimed = _optional(params, b"ip") or _optional(params, b"ipv4") or _optional(params, b"ipv6")
    return AnnounceQuery(
        info_hash=_binary(params, b"info_hash", INFO_HASH_SIZE),
        peer_id=_binary(params, b"peer_id", PEER_ID_SIZE),
        port=_port(params),
        uploaded=_number(params, b"uploaded"),
        downloaded=_number(params, b"downloaded"),
        left=_number(params, b"left"),
        event=_event(params),
        numwant=numwant,
        compact=_flag(params, b"compact", default=True),
        no_peer_id=_flag(params, b"no_peer_id", default=False),
        ip=_text(claimed, "ip") if claimed else None,
    )


def parse_scrape(raw: bytes) -> tuple[bytes, ...]:
    """The info-hashes of a scrape query; at least one, at most :data:`MAX_SCRAPE_HASHES`."""
    hashes = split_query(raw, single=frozenset()).get(b"info_hash", [])
    if not hashes:
        raise QueryError("missing: a full scrape is not offered", "info_hash")
    if len(hashes) > MAX_SCRAPE_HASHES:
        raise QueryError(f"{len(hashes)} info-hashes, more than {MAX_SCRAPE_HASHES}", "info_hash")
    for value in hashes:
        _check_size(value, INFO_HASH_SIZE, "info_hash")
    return tuple(hashes)


def _optional(params: dict[bytes, list[bytes]], name: bytes) -> bytes | None:
    values = params.get(name)
    return values[0] if values else None


def _required(params: dict[bytes, list[bytes]], name: bytes) -> bytes:
    value = _optional(params, name)
    if value is None:
        raise QueryError("missing", name.decode())
    return value


def _check_size(value: bytes, size: int, name: str) -> None:
    if len(value) != size:
        raise QueryError(f"{len(value)} bytes, not {size}", name)


def _binary(params: dict[bytes, list[bytes]], name: bytes, size: int) -> bytes:
    value = _required(params, name)
    _check_size(value, size, name.decode())
    return value


def _digits(value: bytes, name: str) -> int:
    if not _DIGITS.fullmatch(value):
        raise QueryError(f"{value[:24]!r} is not a non-negative decimal integer", name)
    return int(value)


def _number(params: dict[bytes, list[bytes]], name: bytes) -> int:
    value = _digits(_required(params, name), name.decode())
    if value > MAX_COUNTER:
        raise QueryError(f"{value} is larger than {MAX_COUNTER}", name.decode())
    return value


def _port(params: dict[bytes, list[bytes]]) -> int:
    port = _digits(_required(params, b"port"), "port")
    if not 1 <= port <= 0xFFFF:
        raise QueryError(f"{port} is not a port in 1..65535", "port")
    return port


def _event(params: dict[bytes, list[bytes]]) -> Event:
    value = _optional(params, b"event") or b""
    event = EVENTS.get(value)
    if event is None:
        raise QueryError(f"unknown event {value[:24]!r}", "event")
    return event


def _flag(params: dict[bytes, list[bytes]], name: bytes, *, default: bool) -> bool:
    value = _optional(params, name)
    if value is None:
        return default
    if value not in (b"0", b"1"):
        raise QueryError(f"{value[:24]!r} is not 0 or 1", name.decode())
    return value == b"1"


def _text(value: bytes, name: str) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise QueryError("not ASCII text", name) from None
