"""The UDP tracker's request handling, sans-I/O (BEP 15, 41).

Theory of operation
-------------------
The adapter hands every datagram to :meth:`UdpTracker.datagram_received`
with the sender's packed IP address (4 or 16 bytes; the port plays no part)
and the time, and gets back one of:

- ``None``: drop it silently;
- :class:`Send`: bytes to send back at once (a connect reply or an error);
- :class:`AnnounceJob` / :class:`ScrapeJob`: an authenticated request for the
  peer store; the adapter awaits the store and builds the datagram with
  :meth:`UdpTracker.announce_reply` / :meth:`UdpTracker.scrape_reply`.

Defences:

- *Spoofing*: announces and scrapes must quote a connection id, a MAC of the
  sender's address (:mod:`.connection_ids`), so a forged source cannot
  announce; a reply only goes to an address that proved it receives.
  The MAC covers the IP, not the port (see :mod:`.connection_ids`).
- *Amplification*: a packet whose connection id is not proven (a connect, a
  malformed packet, a bad id) is never answered with more bytes than it
  carried: connect replies are 16 bytes like the request, and error text is
  cut to fit. Packets too short to carry a transaction id get silence.
- *Floods*: connects are rate-limited per source IP (:mod:`.rate_limit`).
- *Fragmentation*: ``num_want`` is capped so that every announce reply fits
  a 1280-byte datagram, IPv6's minimum MTU, and is never fragmented.

Peers of the sender's address family only are returned, as BEP 15 replies
carry one address size.

The hot path
------------
Nearly every datagram a busy tracker gets is a plain announce: 98 bytes, no
BEP 41 options, a valid connection id, a listening port, open mode. For a
store that answers inline (the memory store), :meth:`UdpTracker.announce_inline`
serves exactly those with one precompiled ``struct.unpack_from``, a dict hit
for the connection id, and the registry called with plain values
(:data:`InlineAnnounce`), so no request, announcement, job or result object
is built: the reply is the header and the stored peers, joined. Anything else
(a connect, a scrape, options, an error, a private tracker, a claimed
address the policy honours) it declines with ``None``, and
:meth:`UdpTracker.datagram_received` judges the packet through the codec's
dataclasses, the path clients, tests and every other store use. The two
answer byte for byte alike (a differential test checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bitswarm.core.tracker.access import AccessList, passkey_in_path
from bitswarm.core.tracker.compact import V4_SIZE, V6_SIZE
from bitswarm.core.tracker.connection_ids import ConnectionIds
from bitswarm.core.tracker.errors import UdpPacketError
from bitswarm.core.tracker.model import (
    DEFAULT_NUMWANT,
    MAX_NUMWANT,
    Announcement,
    AnnounceResult,
    SwarmCounts,
)
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.rate_limit import RateLimiter
from bitswarm.core.tracker.udp import (
    ANNOUNCE,
    ANNOUNCE_SIZE,
    ANNOUNCE_STRUCT,
    AnnounceRequest,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeResponse,
    decode_request,
    encode_announce_response,
)

SAFE_DATAGRAM = 1280 - 48
"""UDP payload that crosses any IPv6 path (minimum MTU minus IPv6 and UDP headers)."""

_REPLY_HEADER = 20
MAX_PEERS_V4 = min(MAX_NUMWANT, (SAFE_DATAGRAM - _REPLY_HEADER) // V4_SIZE)
"""Most IPv4 peers in one UDP announce reply."""

MAX_PEERS_V6 = (SAFE_DATAGRAM - _REPLY_HEADER) // V6_SIZE
"""Most IPv6 peers in one UDP announce reply (67)."""

_ERROR_HEADER = 8
_STOPPED = 3  # the highest BEP 15 event number

InlineAnnounce = Callable[
    [bytes, bytes, bytes, bool, int, int, bool, float], tuple[tuple[bytes, ...], int, int, int]
]
"""An inline store's announce from plain values, as
:meth:`~bitswarm.core.tracker.registry.Registry.announce_values`: info-hash, compact
address, peer id, seeder, event number, numwant, same family only, now; it returns
the peers, seeders, leechers and completed downloads."""


@dataclass(frozen=True, slots=True)
class Send:
    """Reply at once; ``error`` marks a refusal, for the metrics."""

    data: bytes
    error: bool = False


@dataclass(frozen=True, slots=True)
class AnnounceJob:
    """An authenticated announce to run against the store."""

    transaction_id: int
    announcement: Announcement


@dataclass(frozen=True, slots=True)
class ScrapeJob:
    """An authenticated scrape to run against the store."""

    transaction_id: int
    info_hashes: tuple[bytes, ...]


Outcome = Send | AnnounceJob | ScrapeJob | None


class UdpTracker:
    """Decides what to do with each datagram; holds no per-client state but rate buckets."""

    def __init__(
        self,
        policy: TrackerPolicy,
        access: AccessList,
        connection_ids: ConnectionIds,
        connect_limiter: RateLimiter,
    ) -> None:
        self.policy = policy
        self.access = access
        self.connection_ids = connection_ids
        self.connect_limiter = connect_limiter

    def datagram_received(self, packet: bytes, ip: bytes, now: float) -> Outcome:
        """Judge one datagram from the packed address ``ip`` arriving at ``now``."""
        try:
            request = decode_request(packet)
        except UdpPacketError as error:
            return _unproven_error(packet, str(error))
        if isinstance(request, ConnectRequest):
            if not self.connect_limiter.allow(ip, now):
                return None
            connection_id = self.connection_ids.issue(ip, now)
            return Send(ConnectResponse(request.transaction_id, connection_id).encode())
        if not self.connection_ids.check(request.connection_id, ip, now):
            return _unproven_error(packet, "connection id expired or invalid; connect again")
        if isinstance(request, AnnounceRequest):
            return self._announce(request, ip)
        if self.access.private:
            reason = "private tracker: scrape over HTTP with your passkey"
            return _refusal(request.transaction_id, reason)
        return ScrapeJob(request.transaction_id, request.info_hashes)

    def announce_inline(
        self, packet: bytes, ip: bytes, now: float, announce: InlineAnnounce
    ) -> bytes | None:
        """The hot path: the reply to a plain announce, or ``None`` to take the general path.

        Answers what :meth:`datagram_received` and :meth:`announce_reply` would
        for the same packet, and declines every packet that is not a plain,
        authenticated, acceptable announce; see the module docstring.
        """
        if len(packet) != ANNOUNCE_SIZE or self.access.private:
            return None
        (cid, action, tid, info_hash, peer_id, _, left, _, event, claimed, _, num_want, port) = (
            _UNPACK_ANNOUNCE(packet)
        )
        policy = self.policy
        if (
            action != ANNOUNCE
            or event > _STOPPED
            or not port
            or (claimed and policy.allow_claimed_ip and len(ip) == 4)
            or not self.connection_ids.check(cid, ip, now)
        ):
            return None
        if num_want < 0:
            num_want = DEFAULT_NUMWANT
        cap = MAX_PEERS_V4 if len(ip) == 4 else MAX_PEERS_V6
        peers, seeders, leechers, _ = announce(
            info_hash,
            ip + packet[_PORT],
            peer_id,
            not left,
            event,
            cap if num_want > cap else num_want,
            True,
            now,
        )
        return encode_announce_response(tid, policy.interval, leechers, seeders, peers)

    def announce_reply(self, job: AnnounceJob, result: AnnounceResult) -> bytes:
        counts = result.counts
        return encode_announce_response(
            job.transaction_id,
            self.policy.interval,
            counts.incomplete,
            counts.complete,
            result.peers,
        )

    def scrape_reply(self, job: ScrapeJob, counts: list[SwarmCounts]) -> bytes:
        return ScrapeResponse(job.transaction_id, tuple(counts)).encode()

    def _announce(self, request: AnnounceRequest, ip: bytes) -> Send | AnnounceJob:
        if self.access.private:
            passkey = passkey_in_path(request.url_data.decode("latin-1"))
            refusal = self.access.refusal(passkey, request.info_hash)
            if refusal:
                return _refusal(request.transaction_id, refusal)
        if request.port == 0:
            return _refusal(request.transaction_id, "port 0 is not a listening port")
        if request.ip and self.policy.allow_claimed_ip and len(ip) == 4:
            ip = request.ip.to_bytes(4, "big")
        cap = MAX_PEERS_V4 if len(ip) == 4 else MAX_PEERS_V6
        wanted = DEFAULT_NUMWANT if request.num_want < 0 else request.num_want
        announcement = Announcement(
            info_hash=request.info_hash,
            peer_id=request.peer_id,
            address=ip + request.port.to_bytes(2, "big"),
            uploaded=request.uploaded,
            downloaded=request.downloaded,
            left=request.left,
            event=request.event,
            numwant=min(wanted, cap),
            key=request.key,
            same_family_only=True,
        )
        return AnnounceJob(request.transaction_id, announcement)


_UNPACK_ANNOUNCE = ANNOUNCE_STRUCT.unpack_from
_PORT = slice(ANNOUNCE_SIZE - 2, ANNOUNCE_SIZE)  # the port field, big-endian as in compact form


def _refusal(transaction_id: int, reason: str) -> Send:
    """An error reply to a request whose sender proved its address."""
    return Send(ErrorResponse(transaction_id, reason).encode(), error=True)


def _unproven_error(packet: bytes, reason: str) -> Send | None:
    """An error reply no larger than ``packet``, or silence if it cannot carry one."""
    if len(packet) < 16:
        return None
    transaction_id = int.from_bytes(packet[12:16], "big")
    room = len(packet) - _ERROR_HEADER
    return _refusal(transaction_id, reason.encode()[:room].decode("utf-8", "ignore"))
