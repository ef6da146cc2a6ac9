"""The client side of the UDP tracker protocol as a sans-I/O machine (BEP 15, 41).

Theory of operation
-------------------
One :class:`UdpTrackerClient` talks to one tracker address and lives as long
as the torrent session, because the connection id it obtains is reusable:
BEP 15 lets a client quote it for one minute after receiving it.

Each announce or scrape the caller asks for becomes a *request* with its own
id (returned to the caller) and a 32-bit transaction id drawn from the random
generator the caller passed in. A request needs a live connection id:

    request --(connection id fresh)--> SENT --(matching reply)--> done
       |                                 |
       +--(none or expired)--> WAITING   +--(timer)--> resent, or timed out
                                  |
                     connect exchange completes --> SENT

At most one connect exchange runs at a time; every request that is WAITING
is sent as soon as it completes. A reply is accepted only when its transaction
id is outstanding and its action fits what was asked; anything else (stale,
forged, garbage without a known transaction id) is dropped silently, as a
datagram socket can receive anything from anyone.

Time is the caller's: every entry point takes ``now`` in seconds, and
:meth:`get_timer` says when :meth:`handle_timer` must be called next, in
aioquic's style. When nothing arrives within ``15 * 2**n`` seconds the same
packet (same transaction id, so a late answer still counts) is sent again, n
counting from 0 up to ``max_retransmits`` (BEP 15 says 8: almost 4 hours in
all; an interactive client passes fewer). A request whose connection id has
expired by then first reconnects.

The caller drains :meth:`datagrams_to_send` after every call and reads the
outcome of each request from :meth:`next_event`.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from dataclasses import dataclass

from bitswarm.core.tracker.client_model import AnnounceParams, AnnounceReply
from bitswarm.core.tracker.errors import UdpPacketError
from bitswarm.core.tracker.model import SwarmCounts
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    Response,
    ScrapeRequest,
    ScrapeResponse,
    decode_response,
)

CONNECTION_ID_LIFETIME = 60.0
"""Seconds a client may quote a connection id after receiving it (BEP 15)."""

BASE_TIMEOUT = 15.0
"""The first wait for an answer; each retransmission doubles it (BEP 15)."""

MAX_RETRANSMITS = 8
"""BEP 15's largest n in ``15 * 2**n``."""


@dataclass(frozen=True, slots=True)
class AnnounceDone:
    """Request ``request`` was answered with ``reply``."""

    request: int
    reply: AnnounceReply


@dataclass(frozen=True, slots=True)
class ScrapeDone:
    """Request ``request`` was answered with counts per info-hash."""

    request: int
    counts: dict[bytes, SwarmCounts]


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """The tracker refused ``request`` (an error packet) or answered it wrongly."""

    request: int
    reason: str


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """No answer to ``request`` after ``attempts`` sends of the last packet it needed."""

    request: int
    attempts: int


UdpTrackerEvent = AnnounceDone | ScrapeDone | RequestFailed | RequestTimedOut
"""The outcome of one request."""


class _Exchange:
    """One packet awaiting its answer: transaction id, attempt number n, deadline."""

    __slots__ = ("attempt", "deadline", "transaction_id")

    def __init__(self, transaction_id: int) -> None:
        self.transaction_id = transaction_id
        self.attempt = 0
        self.deadline: float | None = None


class _Request(_Exchange):
    __slots__ = ("announce", "info_hashes", "request")

    def __init__(
        self,
        request: int,
        transaction_id: int,
        announce: AnnounceParams | None,
        info_hashes: tuple[bytes, ...],
    ) -> None:
        super().__init__(transaction_id)
        self.request = request
        self.announce = announce
        self.info_hashes = info_hashes


def _ipv4_field(ip: str | None) -> int:
    """BEP 15's ``ip`` word: an IPv4 override, or 0 for the datagram's source."""
    if ip is None:
        return 0
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return 0
    return int(address) if isinstance(address, ipaddress.IPv4Address) else 0


class UdpTrackerClient:
    """Announces and scrapes to one UDP tracker; see the module docstring."""

    def __init__(
        self,
        rng: random.Random,
        *,
        ipv6: bool = False,
        url_data: bytes = b"",
        base_timeout: float = BASE_TIMEOUT,
        max_retransmits: int = MAX_RETRANSMITS,
    ) -> None:
        """``ipv6``: the tracker is reached over IPv6, so peers come 18 bytes each.

        ``url_data`` is the path and query of the tracker URL, sent as a BEP 41
        option with every announce.
        """
        self._rng = rng
        self._ipv6 = ipv6
        self._url_data = url_data
        self._base_timeout = base_timeout
        self._max_retransmits = max_retransmits
        self._connection_id: int | None = None
        self._connection_expires = 0.0
        self._connect: _Exchange | None = None
        self._requests: dict[int, _Request] = {}  # by transaction id
        self._next_request = 0
        self._outgoing: list[bytes] = []
        self._events: deque[UdpTrackerEvent] = deque()

    # -- what the caller asks --------------------------------------------------

    def announce(self, params: AnnounceParams, now: float) -> int:
        """Start an announce; returns the request id its event will carry."""
        return self._start(params, (), now)

    def scrape(self, info_hashes: tuple[bytes, ...], now: float) -> int:
        """Start a scrape of up to 74 info-hashes; returns the request id."""
        ScrapeRequest(0, 0, info_hashes)  # validates the count and sizes now, not later
        return self._start(None, info_hashes, now)

    def cancel(self, request: int) -> None:
        """Forget ``request`` without an event (its caller stopped waiting)."""
        for tid, pending in list(self._requests.items()):
            if pending.request == request:
                del self._requests[tid]
        if self._connect is not None and not self._waiting():
            self._connect = None  # nobody needs it any more: stop retransmitting it

    def datagrams_to_send(self) -> list[bytes]:
        """Packets to send to the tracker, oldest first; the list is then emptied."""
        out, self._outgoing = self._outgoing, []
        return out

    def next_event(self) -> UdpTrackerEvent | None:
        """The next finished request, or ``None``."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next run, or ``None`` when nothing waits."""
        deadlines = [r.deadline for r in self._requests.values() if r.deadline is not None]
        if self._connect is not None and self._connect.deadline is not None:
            deadlines.append(self._connect.deadline)
        return min(deadlines, default=None)

    @property
    def pending(self) -> int:
        """Requests not yet finished."""
        return len(self._requests)

    # -- what happens ------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Retransmit, reconnect or give up on whatever waited past its deadline."""
        connect = self._connect
        if connect is not None and connect.deadline is not None and connect.deadline <= now:
            if connect.attempt >= self._max_retransmits:
                self._connect = None
                for request in self._waiting():
                    self._finish(request, RequestTimedOut(request.request, connect.attempt + 1))
            else:
                connect.attempt += 1
                self._send_connect(connect, now)
        for request in list(self._requests.values()):
            if request.deadline is None or request.deadline > now:
                continue
            if request.attempt >= self._max_retransmits:
                self._finish(request, RequestTimedOut(request.request, request.attempt + 1))
            else:
                request.attempt += 1
                self._dispatch(request, now)

    def datagram_received(self, data: bytes, now: float) -> None:
        """Feed one datagram that came from the tracker's address."""
        try:
            response = decode_response(data, ipv6=self._ipv6)
        except UdpPacketError as error:
            self._malformed(data, error)
            return
        connect = self._connect
        if connect is not None and response.transaction_id == connect.transaction_id:
            self._connect_answered(response, now)
            return
        request = self._requests.get(response.transaction_id)
        if request is None:
            return
        if isinstance(response, ErrorResponse):
            self._finish(request, RequestFailed(request.request, response.message))
        elif isinstance(response, AnnounceResponse) and request.announce is not None:
            self._finish(request, AnnounceDone(request.request, _announce_reply(response)))
        elif isinstance(response, ScrapeResponse) and request.announce is None:
            self._scrape_answered(request, response)
        else:
            kind = "announce" if request.announce is not None else "scrape"
            reply = type(response).__name__
            self._finish(request, RequestFailed(request.request, f"{reply} to the {kind}"))

    # -- inside ------------------------------------------------------------------

    def _start(self, announce: AnnounceParams | None, hashes: tuple[bytes, ...], now: float) -> int:
        request = _Request(self._next_request, self._new_transaction_id(), announce, hashes)
        self._next_request += 1
        self._requests[request.transaction_id] = request
        self._dispatch(request, now)
        return request.request

    def _new_transaction_id(self) -> int:
        while True:
            tid = self._rng.getrandbits(32)
            if tid not in self._requests and (
                self._connect is None or tid != self._connect.transaction_id
            ):
                return tid

    def _dispatch(self, request: _Request, now: float) -> None:
        """Send ``request`` if the connection id is fresh, else queue it behind a connect."""
        if self._connection_id is None or now >= self._connection_expires:
            self._connection_id = None
            request.deadline = None
            if self._connect is None:
                self._connect = _Exchange(self._new_transaction_id())
                self._send_connect(self._connect, now)
            return
        self._outgoing.append(self._packet(request, self._connection_id))
        request.deadline = now + self._base_timeout * 2**request.attempt

    def _send_connect(self, connect: _Exchange, now: float) -> None:
        self._outgoing.append(ConnectRequest(connect.transaction_id).encode())
        connect.deadline = now + self._base_timeout * 2**connect.attempt

    def _packet(self, request: _Request, connection_id: int) -> bytes:
        tid = request.transaction_id
        params = request.announce
        if params is None:
            return ScrapeRequest(connection_id, tid, request.info_hashes).encode()
        return AnnounceRequest(
            connection_id=connection_id,
            transaction_id=tid,
            info_hash=params.info_hash,
            peer_id=params.peer_id,
            downloaded=params.downloaded,
            left=params.left,
            uploaded=params.uploaded,
            event=params.event,
            ip=_ipv4_field(params.ip),
            key=params.key or 0,
            num_want=-1 if params.numwant is None else params.numwant,
            port=params.port,
            url_data=self._url_data,
        ).encode()

    def _waiting(self) -> list[_Request]:
        return [r for r in self._requests.values() if r.deadline is None]

    def _connect_answered(self, response: Response, now: float) -> None:
        if isinstance(response, ConnectResponse):
            self._connect = None
            self._connection_id = response.connection_id
            self._connection_expires = now + CONNECTION_ID_LIFETIME
            for request in self._waiting():
                self._dispatch(request, now)
        elif isinstance(response, ErrorResponse):
            self._connect_failed(response.message)
        else:
            self._connect_failed(f"{type(response).__name__} to the connect")

    def _connect_failed(self, reason: str) -> None:
        self._connect = None
        for request in self._waiting():
            self._finish(request, RequestFailed(request.request, reason))

    def _scrape_answered(self, request: _Request, response: ScrapeResponse) -> None:
        asked = len(request.info_hashes)
        if len(response.counts) != asked:
            reason = f"scrape response counts {len(response.counts)} torrents, {asked} asked"
            self._finish(request, RequestFailed(request.request, reason))
            return
        counts = dict(zip(request.info_hashes, response.counts, strict=True))
        self._finish(request, ScrapeDone(request.request, counts))

    def _malformed(self, data: bytes, error: UdpPacketError) -> None:
        """A broken packet fails the request it names; one naming nothing is dropped."""
        if len(data) < 8:
            return
        tid = int.from_bytes(data[4:8], "big")
        request = self._requests.get(tid)
        if request is not None:
            self._finish(request, RequestFailed(request.request, f"malformed reply: {error}"))
        elif self._connect is not None and tid == self._connect.transaction_id:
            self._connect_failed(f"malformed reply: {error}")

    def _finish(self, request: _Request, event: UdpTrackerEvent) -> None:
        del self._requests[request.transaction_id]
        self._events.append(event)


def _announce_reply(response: AnnounceResponse) -> AnnounceReply:
    # Port 0 is well-formed but cannot be dialled (see http_client).
    peers = tuple(peer for peer in response.addresses() if peer[1])
    return AnnounceReply(
        interval=response.interval,
        peers=peers,
        complete=response.seeders,
        incomplete=response.leechers,
    )
