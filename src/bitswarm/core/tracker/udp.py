"""The UDP tracker protocol's packets, both directions (BEP 15, with BEP 41 options).

Every packet is a fixed big-endian layout selected by an ``action`` word:
connect (0), announce (1), scrape (2), error (3). Clients send requests and
trackers send responses, so there is one decoder per direction:
:func:`decode_request` for a tracker and :func:`decode_response` for a client.
Each message class encodes itself with ``encode()``.

An IPv6 announce has the IPv4 layout; only the peers in the response are 18
bytes each instead of 6, chosen by the address family of the datagram. So a
response decoder has to be told the family (``ipv6=``).

Theory of operation
-------------------
Decoders check the length before every read and raise
:class:`~bitswarm.core.tracker.errors.UdpPacketError` naming the faulty byte.
Nothing is allocated from a length the packet claims: BEP 41 option lengths
are one byte and checked against the bytes present. Values are not judged here
(a port of 0 or a ``num_want`` of a million decode fine); what is acceptable
is the tracker's policy, decided by the caller.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from bitswarm.core.tracker.compact import V4_SIZE, V6_SIZE, Address, unpack_peers
from bitswarm.core.tracker.errors import UdpPacketError
from bitswarm.core.tracker.model import INFO_HASH_SIZE, PEER_ID_SIZE, Event, SwarmCounts

PROTOCOL_ID = 0x41727101980
"""The magic ``connection_id`` of a connect request."""

CONNECT, ANNOUNCE, SCRAPE, ERROR = 0, 1, 2, 3
"""BEP 15 action numbers."""

MAX_SCRAPE_HASHES = 74
"""Info-hashes one scrape may carry, so that the response fits a small datagram."""

OPTION_END, OPTION_NOP, OPTION_URL_DATA = 0, 1, 2
"""BEP 41 option types; types of 2 and above carry a length byte."""

_HEADER = struct.Struct(">QII")  # connection_id, action, transaction_id
_ANNOUNCE = struct.Struct(">QII20s20sQQQIIIiH")
_REPLY_HEADER = struct.Struct(">II")  # action, transaction_id
_ANNOUNCE_REPLY = struct.Struct(">IIIII")
_SCRAPE_ENTRY = struct.Struct(">III")  # seeders, completed, leechers
_CONNECT_SIZE = _HEADER.size
_CONNECT_REPLY = struct.Struct(">IIQ")

ANNOUNCE_STRUCT = _ANNOUNCE
"""An announce request's fixed fields, for a server's hot path to unpack at once."""

ANNOUNCE_SIZE = _ANNOUNCE.size
"""Bytes of an announce request before its BEP 41 options (98)."""

_EVENTS = tuple(Event)  # by wire number: an index is cheaper than Event(number)


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """Step one: ask for a connection id."""

    transaction_id: int

    def encode(self) -> bytes:
        return _HEADER.pack(PROTOCOL_ID, CONNECT, self.transaction_id)


@dataclass(frozen=True, slots=True)
class AnnounceRequest:
    """An announce; ``ip`` is the raw IPv4 field (0: use the sender's address)."""

    connection_id: int
    transaction_id: int
    info_hash: bytes
    peer_id: bytes
    downloaded: int
    left: int
    uploaded: int
    event: Event
    ip: int
    key: int
    num_want: int
    port: int
    url_data: bytes = b""
    """BEP 41: the path and query of the tracker URL, all URLData options joined."""

    def __post_init__(self) -> None:
        _check_size(self.info_hash, INFO_HASH_SIZE, "info_hash")
        _check_size(self.peer_id, PEER_ID_SIZE, "peer_id")

    def encode(self) -> bytes:
        fixed = _ANNOUNCE.pack(
            self.connection_id,
            ANNOUNCE,
            self.transaction_id,
            self.info_hash,
            self.peer_id,
            self.downloaded,
            self.left,
            self.uploaded,
            self.event,
            self.ip,
            self.key,
            self.num_want,
            self.port,
        )
        chunks = [self.url_data[i : i + 255] for i in range(0, len(self.url_data), 255)]
        return fixed + b"".join(bytes((OPTION_URL_DATA, len(c))) + c for c in chunks)


@dataclass(frozen=True, slots=True)
class ScrapeRequest:
    """Scrape up to :data:`MAX_SCRAPE_HASHES` torrents."""

    connection_id: int
    transaction_id: int
    info_hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.info_hashes) <= MAX_SCRAPE_HASHES:
            raise ValueError(f"a scrape carries 1 to {MAX_SCRAPE_HASHES} info-hashes")
        for info_hash in self.info_hashes:
            _check_size(info_hash, INFO_HASH_SIZE, "info_hash")

    def encode(self) -> bytes:
        head = _HEADER.pack(self.connection_id, SCRAPE, self.transaction_id)
        return head + b"".join(self.info_hashes)


@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """The connection id to quote in the next announces and scrapes."""

    transaction_id: int
    connection_id: int

    def encode(self) -> bytes:
        return _CONNECT_REPLY.pack(CONNECT, self.transaction_id, self.connection_id)


@dataclass(frozen=True, slots=True)
class AnnounceResponse:
    """Swarm counts and compact peers: 6-byte entries for IPv4, 18 for IPv6."""

    transaction_id: int
    interval: int
    leechers: int
    seeders: int
    peers: bytes = b""
    ipv6: bool = False

    def encode(self) -> bytes:
        return encode_announce_response(
            self.transaction_id, self.interval, self.leechers, self.seeders, (self.peers,)
        )

    def addresses(self) -> list[Address]:
        """Host text and port of every peer."""
        return unpack_peers(self.peers, V6_SIZE if self.ipv6 else V4_SIZE)


@dataclass(frozen=True, slots=True)
class ScrapeResponse:
    """Counts for each scraped info-hash, in request order."""

    transaction_id: int
    counts: tuple[SwarmCounts, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        head = _REPLY_HEADER.pack(SCRAPE, self.transaction_id)
        return head + b"".join(
            _SCRAPE_ENTRY.pack(c.complete, c.downloaded, c.incomplete) for c in self.counts
        )


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """The tracker refuses; ``message`` is human-readable text."""

    transaction_id: int
    message: str

    def encode(self) -> bytes:
        return _REPLY_HEADER.pack(ERROR, self.transaction_id) + self.message.encode()


Request = ConnectRequest | AnnounceRequest | ScrapeRequest
Response = ConnectResponse | AnnounceResponse | ScrapeResponse | ErrorResponse


def decode_request(packet: bytes) -> Request:
    """Parse a datagram a client sent to a tracker."""
    if len(packet) < _HEADER.size:
        raise UdpPacketError(f"request of {len(packet)} bytes, shorter than 16", len(packet))
    connection_id, action, transaction_id = _HEADER.unpack_from(packet)
    if action == CONNECT:
        if connection_id != PROTOCOL_ID:
            raise UdpPacketError(f"connect request without the protocol id 0x{PROTOCOL_ID:x}", 0)
        _expect_size(packet, _CONNECT_SIZE, "connect request")
        return ConnectRequest(transaction_id)
    if action == ANNOUNCE:
        return _decode_announce(packet)
    if action == SCRAPE:
        return _decode_scrape(packet, connection_id, transaction_id)
    raise UdpPacketError(f"unknown request action {action}", 8)


def encode_announce_response(
    transaction_id: int, interval: int, leechers: int, seeders: int, peers: Iterable[bytes]
) -> bytes:
    """An announce response's bytes from its fields, the compact peers given in pieces.

    What :meth:`AnnounceResponse.encode` sends; a server that holds its peers
    as compact entries joins them straight into the datagram with this.
    """
    head = _ANNOUNCE_REPLY.pack(ANNOUNCE, transaction_id, interval, leechers, seeders)
    return b"".join((head, *peers))


def decode_response(packet: bytes, *, ipv6: bool = False) -> Response:
    """Parse a datagram a tracker sent; ``ipv6`` is the family it arrived over."""
    if len(packet) < _REPLY_HEADER.size:
        raise UdpPacketError(f"response of {len(packet)} bytes, shorter than 8", len(packet))
    action, transaction_id = _REPLY_HEADER.unpack_from(packet)
    if action == CONNECT:
        _expect_size(packet, _CONNECT_REPLY.size, "connect response")
        return ConnectResponse(transaction_id, _CONNECT_REPLY.unpack(packet)[2])
    if action == ANNOUNCE:
        return _decode_announce_response(packet, ipv6)
    if action == SCRAPE:
        return _decode_scrape_response(packet, transaction_id)
    if action == ERROR:
        text = packet[_REPLY_HEADER.size :].decode("utf-8", "replace")
        return ErrorResponse(transaction_id, text)
    raise UdpPacketError(f"unknown response action {action}", 0)


def _check_size(value: bytes, size: int, name: str) -> None:
    if len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, not {len(value)}")


def _expect_size(packet: bytes, size: int, what: str) -> None:
    if len(packet) != size:
        raise UdpPacketError(f"{what} of {len(packet)} bytes, not {size}", min(len(packet), size))


def _decode_announce(packet: bytes) -> AnnounceRequest:
    if len(packet) < ANNOUNCE_SIZE:
        raise UdpPacketError(
            f"announce request of {len(packet)} bytes, shorter than {ANNOUNCE_SIZE}", len(packet)
        )
    (cid, _, tid, info_hash, peer_id, down, left, up, event, ip, key, num_want, port) = (
        _ANNOUNCE.unpack_from(packet)
    )
    if event > Event.STOPPED:
        raise UdpPacketError(f"unknown announce event {event}", 80)
    url_data = _decode_options(packet, ANNOUNCE_SIZE) if len(packet) > ANNOUNCE_SIZE else b""
    return AnnounceRequest(
        cid, tid, info_hash, peer_id, down, left, up, _EVENTS[event], ip, key, num_want, port,
        url_data=url_data,
    )  # fmt: skip


def _decode_options(packet: bytes, offset: int) -> bytes:
    """BEP 41: skip NOPs and unknown options, join URLData, stop at EndOfOptions."""
    url_data = bytearray()
    while offset < len(packet):
        kind = packet[offset]
        if kind == OPTION_END:
            break
        if kind == OPTION_NOP:
            offset += 1
            continue
        if offset + 1 >= len(packet):
            raise UdpPacketError(f"option {kind} has no length byte", offset + 1)
        end = offset + 2 + packet[offset + 1]
        if end > len(packet):
            raise UdpPacketError(
                f"option {kind} runs {end - len(packet)} bytes past the end", offset
            )
        if kind == OPTION_URL_DATA:
            url_data += packet[offset + 2 : end]
        offset = end
    return bytes(url_data)


def _decode_scrape(packet: bytes, connection_id: int, transaction_id: int) -> ScrapeRequest:
    body = len(packet) - _HEADER.size
    if body == 0 or body % INFO_HASH_SIZE:
        raise UdpPacketError(
            f"scrape request carries {body} bytes of info-hashes, not a positive multiple of 20",
            _HEADER.size + body - body % INFO_HASH_SIZE,
        )
    if body // INFO_HASH_SIZE > MAX_SCRAPE_HASHES:
        raise UdpPacketError(
            f"scrape request of {body // INFO_HASH_SIZE} info-hashes, more than "
            f"{MAX_SCRAPE_HASHES}",
            _HEADER.size + MAX_SCRAPE_HASHES * INFO_HASH_SIZE,
        )
    hashes = tuple(packet[i : i + INFO_HASH_SIZE] for i in range(_HEADER.size, len(packet), 20))
    return ScrapeRequest(connection_id, transaction_id, hashes)


def _decode_announce_response(packet: bytes, ipv6: bool) -> AnnounceResponse:
    if len(packet) < _ANNOUNCE_REPLY.size:
        raise UdpPacketError(
            f"announce response of {len(packet)} bytes, shorter than 20", len(packet)
        )
    _, tid, interval, leechers, seeders = _ANNOUNCE_REPLY.unpack_from(packet)
    peers = packet[_ANNOUNCE_REPLY.size :]
    stride = V6_SIZE if ipv6 else V4_SIZE
    if len(peers) % stride:
        raise UdpPacketError(
            f"{len(peers)} bytes of peers, not a multiple of {stride}",
            len(packet) - len(peers) % stride,
        )
    return AnnounceResponse(tid, interval, leechers, seeders, bytes(peers), ipv6)


def _decode_scrape_response(packet: bytes, transaction_id: int) -> ScrapeResponse:
    body = len(packet) - _REPLY_HEADER.size
    if body % _SCRAPE_ENTRY.size:
        raise UdpPacketError(
            f"scrape response carries {body} bytes of counts, not a multiple of 12",
            len(packet) - body % _SCRAPE_ENTRY.size,
        )
    counts = tuple(
        SwarmCounts(complete=seeders, incomplete=leechers, downloaded=completed)
        for seeders, completed, leechers in _SCRAPE_ENTRY.iter_unpack(packet[_REPLY_HEADER.size :])
    )
    return ScrapeResponse(transaction_id, counts)
