"""The asyncio tracker client against small scripted trackers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import unquote_to_bytes

import pytest
from aiohttp import web

from bitswarm.aio.tracker_client import AnnounceFailed, TrackerClient
from bitswarm.core.bencode import encode
from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.model import Event, SwarmCounts
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeRequest,
    ScrapeResponse,
    decode_request,
)

INFO_HASH = b"\x00\x01 %&+=?" + b"h" * 12
PEER_ID = b"-BS0100-" + b"\xfe" * 12


def raw_query(request: web.Request) -> dict[str, list[bytes]]:
    pairs: dict[str, list[bytes]] = {}
    for item in request.rel_url.raw_query_string.split("&"):
        name, _, value = item.partition("=")
        pairs.setdefault(name, []).append(unquote_to_bytes(value))
    return pairs


class HttpTracker:
    """Answers announces with ``reply`` and records the raw queries."""

    def __init__(self) -> None:
        self.queries: list[dict[str, list[bytes]]] = []
        self.reply: dict[str, object] = {"interval": 900, "peers": pack_address("127.0.0.7", 7)}
        self.url = ""

    async def announce(self, request: web.Request) -> web.Response:
        self.queries.append(raw_query(request))
        return web.Response(body=encode(self.reply))  # type: ignore[arg-type]

    async def flood(self, request: web.Request) -> web.StreamResponse:
        """A hostile tracker: an endless body, sent in pieces."""
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 65536)
        return response

    async def scrape(self, request: web.Request) -> web.Response:
        files = {
            h: {"complete": 1, "incomplete": 2, "downloaded": 3}
            for h in raw_query(request)["info_hash"]
        }
        return web.Response(body=encode({"files": files}))


@pytest.fixture
async def http_tracker() -> AsyncIterator[HttpTracker]:
    tracker = HttpTracker()
    app = web.Application()
    app.router.add_get("/x/announce", tracker.announce)
    app.router.add_get("/x/scrape", tracker.scrape)
    app.router.add_get("/flood/announce", tracker.flood)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    tracker.url = f"http://127.0.0.1:{port}/x/announce?passkey=abc"
    yield tracker
    await runner.cleanup()


class UdpTracker(asyncio.DatagramProtocol):
    """Answers BEP 15 requests; ``silent`` drops everything."""

    def __init__(self) -> None:
        self.requests: list[object] = []
        self.silent = False
        self.refuse: str | None = None
        self.peers = pack_address("127.0.0.8", 8)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = decode_request(data)
        self.requests.append(request)
        if self.silent:
            return
        assert self.transport is not None
        reply: bytes
        if isinstance(request, ConnectRequest):
            reply = ConnectResponse(request.transaction_id, 42).encode()
        elif self.refuse is not None:
            reply = ErrorResponse(request.transaction_id, self.refuse).encode()
        elif isinstance(request, AnnounceRequest):
            assert request.connection_id == 42
            reply = AnnounceResponse(request.transaction_id, 1200, 1, 2, self.peers).encode()
        else:
            assert isinstance(request, ScrapeRequest)
            counts = tuple(SwarmCounts(i, i + 1, i + 2) for i in range(len(request.info_hashes)))
            reply = ScrapeResponse(request.transaction_id, counts).encode()
        self.transport.sendto(reply, addr)


@pytest.fixture
async def udp_tracker() -> AsyncIterator[tuple[UdpTracker, str]]:
    loop = asyncio.get_running_loop()
    transport, tracker = await loop.create_datagram_endpoint(
        UdpTracker, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    yield tracker, f"udp://127.0.0.1:{port}/announce?pk=9"
    transport.close()


async def test_http_announce_sends_binary_keys_and_echoes_tracker_id(
    http_tracker: HttpTracker,
) -> None:
    http_tracker.reply["tracker id"] = b"T-1"
    async with TrackerClient([[http_tracker.url]], key=0x1234) as client:
        result = await client.announce(INFO_HASH, PEER_ID, 6881, 10, 20, 30, Event.STARTED)
        assert result.peers == (("127.0.0.7", 7),) and result.interval == 900
        assert result.tracker == http_tracker.url and result.failures == ()
        await client.announce(INFO_HASH, PEER_ID, 6881, 10, 20, 30)
    first, second = http_tracker.queries
    assert first["info_hash"] == [INFO_HASH] and first["peer_id"] == [PEER_ID]
    assert first["passkey"] == [b"abc"] and first["event"] == [b"started"]
    assert first["key"] == [b"00001234"] and first["compact"] == [b"1"]
    assert "trackerid" not in first
    assert second["trackerid"] == [b"T-1"] and "event" not in second


async def test_udp_reuses_its_connection_id(udp_tracker: tuple[UdpTracker, str]) -> None:
    tracker, url = udp_tracker
    async with TrackerClient([[url]]) as client:
        first = await client.announce(INFO_HASH, PEER_ID, 6881, 1, 2, 3, numwant=10)
        await client.announce(INFO_HASH, PEER_ID, 6881, 1, 2, 3)
        assert first.peers == (("127.0.0.8", 8),)
        assert (first.reply.complete, first.reply.incomplete) == (2, 1)
    kinds = [type(r).__name__ for r in tracker.requests]
    assert kinds == ["ConnectRequest", "AnnounceRequest", "AnnounceRequest"]
    request = tracker.requests[1]
    assert isinstance(request, AnnounceRequest)
    assert (request.info_hash, request.peer_id, request.num_want) == (INFO_HASH, PEER_ID, 10)
    assert request.url_data == b"/announce?pk=9"


async def test_failure_moves_on_through_the_tiers_and_promotes(
    http_tracker: HttpTracker, udp_tracker: tuple[UdpTracker, str]
) -> None:
    tracker, udp_url = udp_tracker
    tracker.refuse = "not whitelisted"
    http_tracker.reply = {"failure reason": "banned client"}
    loop = asyncio.get_running_loop()
    dead = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    closed_port = dead[0].get_extra_info("sockname")[1]
    dead[0].close()
    dead_url = f"udp://127.0.0.1:{closed_port}"
    async with TrackerClient([[udp_url, http_tracker.url], [dead_url]]) as client:
        with pytest.raises(AnnounceFailed) as caught:
            await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)
        reasons = dict(caught.value.failures)
        assert "not whitelisted" in reasons[udp_url]
        assert "banned client" in reasons[http_tracker.url]
        assert "Error" in reasons[dead_url]  # refused by the kernel, not a time-out
        http_tracker.reply = {"interval": 60, "peers": b""}
        result = await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)
        assert result.tracker == http_tracker.url
        assert client.tiers == ((http_tracker.url, udp_url), (dead_url,))


async def test_silent_udp_tracker_times_out(udp_tracker: tuple[UdpTracker, str]) -> None:
    tracker, url = udp_tracker
    tracker.silent = True
    async with TrackerClient([[url]], timeout=0.2) as client:
        with pytest.raises(AnnounceFailed, match="timed out"):
            await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)


async def test_scrape_over_http_and_udp(
    http_tracker: HttpTracker, udp_tracker: tuple[UdpTracker, str]
) -> None:
    other = b"\xff" * 20
    async with TrackerClient([[http_tracker.url]]) as client:
        counts = await client.scrape([INFO_HASH, other])
    assert counts == {
        h: SwarmCounts(complete=1, incomplete=2, downloaded=3) for h in (INFO_HASH, other)
    }
    async with TrackerClient([[udp_tracker[1]]]) as client:
        counts = await client.scrape([INFO_HASH, other])
    assert counts == {INFO_HASH: SwarmCounts(0, 1, 2), other: SwarmCounts(1, 2, 3)}


async def test_udp_scrape_of_many_torrents_is_split_into_datagrams(
    udp_tracker: tuple[UdpTracker, str],
) -> None:
    tracker, url = udp_tracker
    hashes = [i.to_bytes(20, "big") for i in range(100)]
    async with TrackerClient([[url]]) as client:
        counts = await client.scrape(hashes)
    assert list(counts) == hashes
    assert counts[hashes[74]] == SwarmCounts(0, 1, 2)  # first of the second datagram
    sizes = [len(r.info_hashes) for r in tracker.requests if isinstance(r, ScrapeRequest)]
    assert sizes == [74, 26]


async def test_udp_tracker_over_ipv6_loopback() -> None:
    loop = asyncio.get_running_loop()
    try:
        transport, tracker = await loop.create_datagram_endpoint(UdpTracker, local_addr=("::1", 0))
    except OSError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    tracker.peers = pack_address("::1", 9)
    port = transport.get_extra_info("sockname")[1]
    try:
        async with TrackerClient([[f"udp://[::1]:{port}/announce"]]) as client:
            result = await client.announce(INFO_HASH, PEER_ID, 6881, 0, 0, 0)
    finally:
        transport.close()
    assert result.peers == (("::1", 9),)


async def test_scrape_without_a_scrape_url_fails_clearly() -> None:
    async with TrackerClient([["http://127.0.0.1:9/tracker"]]) as client:
        with pytest.raises(AnnounceFailed, match="does not end in 'announce'"):
            await client.scrape([INFO_HASH])


async def test_http_reply_size_is_bounded(http_tracker: HttpTracker) -> None:
    url = http_tracker.url.replace("/x/announce", "/flood/announce")
    async with TrackerClient([[url]]) as client:
        with pytest.raises(AnnounceFailed, match="longer than 1048576 bytes"):
            await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)


async def test_large_reply_in_many_pieces_is_read_whole(http_tracker: HttpTracker) -> None:
    peers = [(f"127.0.{n // 250}.{n % 250}", 1 + n) for n in range(20000)]
    http_tracker.reply["peers"] = b"".join(pack_address(host, port) for host, port in peers)
    async with TrackerClient([[http_tracker.url]]) as client:
        result = await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)
    assert list(result.peers) == peers


async def test_http_error_status_is_a_failure(http_tracker: HttpTracker) -> None:
    url = http_tracker.url.replace("/x/announce", "/missing/announce")
    async with TrackerClient([[url]]) as client:
        with pytest.raises(AnnounceFailed, match="HTTP 404"):
            await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)


async def test_unusable_tracker_urls_fail_with_their_reason() -> None:
    bad_port = ["udp://127.0.0.1:x/a", "http://127.0.0.1:99999/announce"]
    urls = ["udp://127.0.0.1/announce", "ftp://127.0.0.1/announce", "http://[::1/a", *bad_port]
    async with TrackerClient([urls]) as client:
        with pytest.raises(AnnounceFailed) as caught:
            await client.announce(INFO_HASH, PEER_ID, 1, 0, 0, 0)
    reasons = dict(caught.value.failures)
    assert "needs a host and a port" in reasons["udp://127.0.0.1/announce"]
    assert "HTTP request failed" in reasons["ftp://127.0.0.1/announce"]
    assert "Port could not be cast" in reasons["udp://127.0.0.1:x/a"]
    assert "Port out of range" in reasons["http://127.0.0.1:99999/announce"]
    assert "Invalid IPv6 URL" in reasons["http://[::1/a"]
