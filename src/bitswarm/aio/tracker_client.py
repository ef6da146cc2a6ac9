"""Announce to a torrent's trackers over HTTP and UDP (BEP 3, 12, 15, 23, 41, 48).

A thin asyncio adapter over the sans-I/O client in :mod:`bitswarm.core.tracker`:
the URLs, reply parsing, tier order and UDP transactions all live there. This
module only fetches with aiohttp (imported at the first HTTP announce, see
:mod:`~bitswarm.aio.http_client`), moves datagrams through one
``DatagramProtocol`` per UDP tracker, and keeps the clock.

One :class:`TrackerClient` serves one torrent's tiers. :meth:`TrackerClient.announce`
asks the trackers in BEP 12 order until one answers, promotes that one, keeps
its ``tracker id`` for the next announce, and returns its peers; when every
tracker fails, :class:`AnnounceFailed` says why for each of them (a tracker's
own ``failure reason`` included). A UDP tracker keeps its connection id between
announces, as BEP 15 allows for a minute.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast
from urllib.parse import urlsplit

from bitswarm.aio.http_client import LazyHttp
from bitswarm.core.tracker.client_model import (
    AnnounceParams,
    AnnounceReply,
    TrackerFailure,
)
from bitswarm.core.tracker.http_client import (
    announce_url,
    parse_announce_reply,
    parse_scrape_reply,
    scrape_url,
)
from bitswarm.core.tracker.model import Event, SwarmCounts
from bitswarm.core.tracker.tiers import TrackerTiers
from bitswarm.core.tracker.udp import MAX_SCRAPE_HASHES
from bitswarm.core.tracker.udp_client import (
    AnnounceDone,
    RequestFailed,
    RequestTimedOut,
    ScrapeDone,
    UdpTrackerClient,
)

DEFAULT_TIMEOUT = 20.0
"""Seconds one tracker gets to answer before the next one is asked."""

MAX_REPLY_BYTES = 1 << 20
"""Largest HTTP reply body read: 1 MiB holds some 170,000 compact peers."""


class AnnounceFailed(Exception):
    """No tracker answered; ``failures`` pairs each tracker URL with its reason."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        detail = "; ".join(f"{url}: {reason}" for url, reason in failures) or "no trackers"
        super().__init__(f"every tracker failed: {detail}")
        self.failures = tuple(failures)


@dataclass(frozen=True, slots=True)
class AnnounceResult:
    """The answer of the first tracker that answered, and what the others said before it."""

    tracker: str
    reply: AnnounceReply
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def peers(self) -> tuple[tuple[str, int], ...]:
        """``(host, port)`` of every peer the tracker gave."""
        return self.reply.peers

    @property
    def interval(self) -> int:
        """Seconds to wait before the next regular announce."""
        return self.reply.interval


class _TrackerError(Exception):
    """One tracker could not serve one request; the message is the reason."""


_Answer = AnnounceReply | dict[bytes, SwarmCounts]

_ONE_TRACKER_FAILED = (TimeoutError, _TrackerError, TrackerFailure, ValueError)
"""What makes the next tracker be asked. ValueError: a malformed reply (ReplyError), a
URL that cannot be used (a torrent's URLs are outside input), no scrape (ScrapeUnsupported)."""


class _UdpEndpoint(asyncio.DatagramProtocol):
    """Drives one :class:`UdpTrackerClient` with a connected datagram socket."""

    def __init__(self, rng: random.Random, url_data: bytes) -> None:
        self._rng = rng
        self._url_data = url_data
        self._loop = asyncio.get_running_loop()
        self._machine: UdpTrackerClient | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._waiters: dict[int, asyncio.Future[_Answer]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Selector transports are not DatagramTransport subclasses: cast, do not check.
        self._transport = cast(asyncio.DatagramTransport, transport)
        family = self._transport.get_extra_info("socket").family
        self._machine = UdpTrackerClient(
            self._rng, ipv6=family == socket.AF_INET6, url_data=self._url_data
        )

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        assert self._machine is not None
        self._machine.datagram_received(data, self._loop.time())
        self._pump()

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: fail fast rather than wait for back-off.
        self._fail_all(f"{type(exc).__name__}: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all("socket closed")
        if self._timer is not None:
            self._timer.cancel()

    async def request(self, params: AnnounceParams | tuple[bytes, ...]) -> _Answer:
        assert self._machine is not None
        now = self._loop.time()
        if isinstance(params, AnnounceParams):
            request = self._machine.announce(params, now)
        else:
            request = self._machine.scrape(params, now)
        waiter: asyncio.Future[_Answer] = self._loop.create_future()
        self._waiters[request] = waiter
        self._pump()
        try:
            return await waiter
        finally:
            self._waiters.pop(request, None)
            self._machine.cancel(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _fail_all(self, reason: str) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(_TrackerError(reason))

    def _on_timer(self) -> None:
        assert self._machine is not None
        self._timer = None
        self._machine.handle_timer(self._loop.time())
        self._pump()

    def _pump(self) -> None:
        machine, transport = self._machine, self._transport
        assert machine is not None and transport is not None
        for datagram in machine.datagrams_to_send():
            transport.sendto(datagram)
        while (event := machine.next_event()) is not None:
            waiter = self._waiters.get(event.request)
            if waiter is None or waiter.done():
                continue
            if isinstance(event, AnnounceDone):
                waiter.set_result(event.reply)
            elif isinstance(event, ScrapeDone):
                waiter.set_result(event.counts)
            elif isinstance(event, RequestFailed):
                waiter.set_exception(_TrackerError(f"tracker failure: {event.reason}"))
            elif isinstance(event, RequestTimedOut):
                waiter.set_exception(_TrackerError(f"no answer after {event.attempts} tries"))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = machine.get_timer()
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)


class TrackerClient:
    """Announces and scrapes one torrent through its tiers of trackers (BEP 12).

    ``session`` is the HTTP client to share; without one the client makes
    its own and closes it in :meth:`close`. ``key`` is the 32-bit session key
    sent with every announce (random when not given).
    """

    def __init__(
        self,
        tiers: Iterable[Iterable[str]],
        *,
        session: LazyHttp | None = None,
        rng: random.Random | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        key: int | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self._tiers = TrackerTiers(tiers, self._rng)
        self._http = session or LazyHttp()
        self._own_session = session is None
        self._timeout = timeout
        self._key = self._rng.getrandbits(32) if key is None else key
        self._tracker_ids: dict[str, bytes] = {}
        self._udp: dict[str, _UdpEndpoint] = {}

    @property
    def tiers(self) -> tuple[tuple[str, ...], ...]:
        """The trackers in the order they will be asked next."""
        return self._tiers.tiers

    async def announce(
        self,
        info_hash: bytes,
        peer_id: bytes,
        port: int,
        uploaded: int,
        downloaded: int,
        left: int,
        event: Event = Event.NONE,
        *,
        numwant: int | None = None,
    ) -> AnnounceResult:
        """Announce to the first tracker that answers; raises AnnounceFailed if none does."""
        params = AnnounceParams(
            info_hash, peer_id, port, uploaded, downloaded, left, event, numwant, self._key
        )
        failures: list[tuple[str, str]] = []
        for url in self._tiers:
            try:
                reply = await asyncio.wait_for(self._announce_one(url, params), self._timeout)
            except _ONE_TRACKER_FAILED as error:
                failures.append((url, str(error) or "timed out"))
                continue
            self._tiers.promote(url)
            if reply.tracker_id is not None:
                self._tracker_ids[url] = reply.tracker_id
            return AnnounceResult(url, reply, tuple(failures))
        raise AnnounceFailed(failures)

    async def scrape(self, info_hashes: Sequence[bytes]) -> dict[bytes, SwarmCounts]:
        """Counts per info-hash from the first tracker that answers a scrape (BEP 15, 48)."""
        hashes = tuple(info_hashes)
        failures: list[tuple[str, str]] = []
        for url in self._tiers:
            try:
                return await asyncio.wait_for(self._scrape_one(url, hashes), self._timeout)
            except _ONE_TRACKER_FAILED as error:
                failures.append((url, str(error) or "timed out"))
        raise AnnounceFailed(failures)

    async def close(self) -> None:
        """Close the UDP sockets, and the HTTP session if this client made it."""
        for endpoint in self._udp.values():
            endpoint.close()
        self._udp.clear()
        if self._own_session:
            await self._http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _announce_one(self, url: str, params: AnnounceParams) -> AnnounceReply:
        if url.startswith("udp://"):
            reply = await (await self._endpoint(url)).request(params)
            assert isinstance(reply, AnnounceReply)
            return reply
        body = await self._get(announce_url(url, params, self._tracker_ids.get(url)))
        return parse_announce_reply(body)

    async def _scrape_one(self, url: str, hashes: tuple[bytes, ...]) -> dict[bytes, SwarmCounts]:
        if not url.startswith("udp://"):
            return parse_scrape_reply(await self._get(scrape_url(url, hashes)))
        endpoint = await self._endpoint(url)
        counts: dict[bytes, SwarmCounts] = {}
        for start in range(0, len(hashes), MAX_SCRAPE_HASHES):  # what one datagram may carry
            chunk = await endpoint.request(hashes[start : start + MAX_SCRAPE_HASHES])
            assert isinstance(chunk, dict)
            counts.update(chunk)
        return counts

    async def _get(self, url: str) -> bytes:
        client = self._http.client()
        import aiohttp  # imported by client() by now
        from yarl import URL

        try:
            # encoded=True: the binary info_hash is already escaped and must stay as is.
            async with client.get(URL(url, encoded=True)) as response:
                if response.status != 200:
                    raise _TrackerError(f"HTTP {response.status} {response.reason}")
                body = bytearray()
                async for chunk in response.content.iter_any():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        raise _TrackerError(f"HTTP reply longer than {MAX_REPLY_BYTES} bytes")
        except (aiohttp.ClientError, ValueError) as error:  # ValueError: a URL yarl refuses
            raise _TrackerError(f"HTTP request failed: {error}") from error
        return bytes(body)

    async def _endpoint(self, url: str) -> _UdpEndpoint:
        endpoint = self._udp.get(url)
        if endpoint is not None:
            return endpoint
        parts = urlsplit(url)
        port = parts.port  # a ValueError when not a number: this tracker fails
        if parts.hostname is None or port is None:
            raise _TrackerError("a UDP tracker URL needs a host and a port")
        url_data = parts.path + (f"?{parts.query}" if parts.query else "")
        loop = asyncio.get_running_loop()
        try:
            _, endpoint = await loop.create_datagram_endpoint(
                lambda: _UdpEndpoint(self._rng, url_data.encode()),
                remote_addr=(parts.hostname, port),
            )
        except OSError as error:
            raise _TrackerError(f"cannot reach {parts.hostname}:{port}: {error}") from error
        self._udp[url] = endpoint
        return endpoint
