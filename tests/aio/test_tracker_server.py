"""The tracker servers end to end on 127.0.0.1: aiohttp client for HTTP, a raw socket for UDP."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Sequence

import aiohttp
import pytest
from tracker_helpers import HASH, TOKEN, announce_url, get_bencoded, started

from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer, open_store
from bitswarm.core.bencode import decode
from bitswarm.core.tracker.compact import unpack_peers
from bitswarm.core.tracker.model import (
    Announcement,
    AnnounceResult,
    Event,
    StoreStats,
    SwarmCounts,
)
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeRequest,
    ScrapeResponse,
    decode_response,
)
from bitswarm_testing import missing


@pytest.fixture
async def server() -> AsyncIterator[TrackerServer]:
    server = await started()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_http_peers_find_each_other(
    server: TrackerServer, http: aiohttp.ClientSession
) -> None:
    first = await get_bencoded(http, announce_url(server, 1, event="started"))
    assert first[b"peers"] == b"" and first[b"incomplete"] == 1 and first[b"interval"] == 60
    second = await get_bencoded(http, announce_url(server, 2, event="started"))
    assert unpack_peers(second[b"peers"], 6) == [("127.0.0.1", 7001)]  # type: ignore[arg-type]
    listed = await get_bencoded(http, announce_url(server, 2, compact="0"))
    assert listed[b"peers"] == [{b"ip": b"127.0.0.1", b"peer id": (1).to_bytes(20, "big"),
                                  b"port": 7001}]  # fmt: skip
    claimed = await get_bencoded(http, announce_url(server, 2, ip="10.1.2.3"))
    assert b"ignored" in claimed[b"warning message"]  # type: ignore[operator]
    assert b"warning message" not in second
    scrape_url = announce_url(server, 1).replace("/announce", "/scrape")
    scraped = await get_bencoded(http, scrape_url)
    assert scraped == {b"files": {HASH: {b"complete": 0, b"downloaded": 0, b"incomplete": 2}}}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"info_hash": "abc"}, b"3 bytes, not 20"),
        ({"peer_id": "x" * 21}, b"21 bytes, not 20"),
        ({"port": "70000"}, b"not a port"),
        ({"left": "-5"}, b"non-negative"),
        ({"compact": "7"}, b"not 0 or 1"),
    ],
)
async def test_http_malformed_requests_get_200_and_a_failure_reason(
    server: TrackerServer, http: aiohttp.ClientSession, extra: dict[str, str], words: bytes
) -> None:
    reply = await get_bencoded(http, announce_url(server, 1, **extra))
    reason = reply[b"failure reason"]
    assert isinstance(reason, bytes) and words in reason
    assert server.context is not None
    assert server.context.metrics.get("http", "errors") == 1


async def test_http_raw_request_with_a_bad_escape_keeps_the_connection(
    server: TrackerServer,
) -> None:
    host, port = server.http_address or ("", 0)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = b"GET /announce?info_hash=%zz HTTP/1.1\r\nHost: t\r\n\r\n"
        for _ in range(2):  # keep-alive: the same connection answers twice
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = decode(await reader.readexactly(length))
            assert isinstance(body, dict)
            assert b"percent escape" in body[b"failure reason"]  # type: ignore[operator]
    finally:
        writer.close()


async def test_http_random_queries_always_get_a_bencoded_200(
    server: TrackerServer, http: aiohttp.ClientSession
) -> None:
    rng = random.Random(11)
    names = ["info_hash", "peer_id", "port", "left", "uploaded", "downloaded", "event",
             "compact", "numwant", "ip", "no_peer_id", "%", "%4", "="]  # fmt: skip
    alphabet = "abcXYZ019%=&+-_.~/"
    host, port = server.http_address or ("", 0)
    for _ in range(150):
        pairs = [
            f"{rng.choice(names)}={''.join(rng.choices(alphabet, k=rng.randrange(30)))}"
            for _ in range(rng.randrange(9))
        ]
        for path in ("announce", "scrape"):
            url = f"http://{host}:{port}/{path}?{'&'.join(pairs)}"
            reply = await get_bencoded(http, url)
            assert b"failure reason" in reply or b"interval" in reply or b"files" in reply


async def test_http_huge_numwant_is_capped(
    server: TrackerServer, http: aiohttp.ClientSession
) -> None:
    for peer in range(1, 251):
        await get_bencoded(http, announce_url(server, peer))
    reply = await get_bencoded(http, announce_url(server, 999, numwant="100000"))
    assert len(reply[b"peers"]) == 200 * 6  # type: ignore[arg-type]


async def test_stats_and_metrics(server: TrackerServer, http: aiohttp.ClientSession) -> None:
    await get_bencoded(http, announce_url(server, 1))
    await get_bencoded(http, announce_url(server, 2, left="0"))
    host, port = server.http_address or ("", 0)
    async with http.get(f"http://{host}:{port}/stats") as response:
        stats = await response.json()
    assert (stats["torrents"], stats["seeders"], stats["leechers"]) == (1, 1, 1)
    assert stats["requests"]["http"]["announces"] == 2
    async with http.get(f"http://{host}:{port}/metrics") as response:
        text = await response.text()
    assert 'bitswarm_tracker_announces_total{protocol="http"} 2' in text
    assert "bitswarm_tracker_seeders 1" in text


async def test_private_mode_managed_through_the_admin_api(http: aiohttp.ClientSession) -> None:
    server = await started(private=True)
    try:
        host, port = server.http_address or ("", 0)
        base = f"http://{host}:{port}"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        refused = await get_bencoded(http, announce_url(server, 1))
        assert b"private" in refused[b"failure reason"]  # type: ignore[operator]
        async with http.put(f"{base}/admin/passkeys/passkey-0001") as response:
            assert response.status == 401
        async with http.put(f"{base}/admin/passkeys/passkey-0001", headers=auth) as response:
            assert response.status == 200
        keyed = announce_url(server, 1, path="/announce/passkey-0001")
        unlisted = await get_bencoded(http, keyed)
        assert unlisted[b"failure reason"] == b"torrent not registered with this tracker"
        async with http.put(f"{base}/admin/torrents/{HASH.hex()}", headers=auth) as response:
            assert response.status == 200
        assert b"failure reason" not in await get_bencoded(http, keyed)
        async with http.get(f"{base}/admin/access", headers=auth) as response:
            assert await response.json() == {
                "private": True, "passkeys": ["passkey-0001"], "info_hashes": [HASH.hex()],
            }  # fmt: skip
        async with http.delete(f"{base}/admin/torrents/{'00' * 20}", headers=auth) as response:
            assert response.status == 404
        async with http.put(f"{base}/admin/torrents/xyz", headers=auth) as response:
            assert response.status == 400
    finally:
        await server.stop()


async def test_client_address_from_the_proxy_header(http: aiohttp.ClientSession) -> None:
    server = await started(client_address_header="X-Forwarded-For")
    try:
        headers = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
        await get_bencoded(http, announce_url(server, 1), headers=headers)
        reply = await get_bencoded(http, announce_url(server, 2), headers=headers)
        assert unpack_peers(reply[b"peers"], 6) == [("198.51.100.7", 7001)]  # type: ignore[arg-type]
        missing = await get_bencoded(http, announce_url(server, 3))
        assert b"X-Forwarded-For" in missing[b"failure reason"]  # type: ignore[operator]
    finally:
        await server.stop()


class _BrokenStore:
    """A networked store that has lost its server: the UDP side awaits it in a task."""

    async def announce(self, announcement: Announcement, now: float) -> AnnounceResult:
        raise ConnectionError("store is down")

    async def scrape(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        raise ConnectionError("store is down")

    async def expire(self, now: float) -> int:
        return 0

    async def stats(self) -> StoreStats:
        return StoreStats(0, 0, 0)

    async def close(self) -> None:
        """Nothing to release."""


class _BrokenImmediateStore(_BrokenStore):
    """A failing in-process store: the UDP side calls it inline."""

    def announce_now(self, announcement: Announcement, now: float) -> AnnounceResult:
        raise ConnectionError("store is down")

    def announce_values(self, *fields: object) -> tuple[tuple[bytes, ...], int, int, int]:
        raise ConnectionError("store is down")

    def scrape_now(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        raise ConnectionError("store is down")


@pytest.mark.parametrize("broken", [_BrokenStore, _BrokenImmediateStore])
async def test_a_failing_store_never_causes_a_500(
    server: TrackerServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    broken: type[_BrokenStore],
) -> None:
    assert server.context is not None
    server.context.store = broken()
    reply = await get_bencoded(http, announce_url(server, 1))
    assert reply[b"failure reason"] == b"internal tracker error, try again later"
    async with UdpClient(server) as udp:
        cid = await udp.connect()
        answer = await udp.ask(announce_packet(cid))
        assert isinstance(answer, ErrorResponse) and "internal" in answer.message
        answer = await udp.ask(ScrapeRequest(cid, 78, (HASH,)).encode())
        assert isinstance(answer, ErrorResponse) and answer.transaction_id == 78
    assert "store is down" in caplog.text
    assert server.context.metrics.get("udp", "errors") == 2


async def test_udp_connection_ids_hold_for_another_port_of_the_same_ip(
    server: TrackerServer,
) -> None:
    async with UdpClient(server) as connected, UdpClient(server) as other:
        cid = await connected.connect()
        reply = await other.ask(announce_packet(cid))
        assert isinstance(reply, AnnounceResponse) and reply.transaction_id == 77


class UdpClient:
    """A raw UDP socket talking BEP 15 to the server under test."""

    def __init__(self, server: TrackerServer, family: int = socket.AF_INET) -> None:
        assert server.udp_address is not None
        self.address = server.udp_address
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.ipv6 = family == socket.AF_INET6

    async def __aenter__(self) -> UdpClient:
        self.sock.bind(("::1" if self.ipv6 else "127.0.0.1", 0))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.sock.close()

    async def send(self, packet: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, packet, self.address)

    async def receive(self, timeout: float = 2.0) -> bytes | None:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.sock_recv(self.sock, 4096), timeout)
        except TimeoutError:
            return None

    async def ask(self, packet: bytes) -> object:
        await self.send(packet)
        data = await self.receive()
        assert data is not None, "no reply"
        return decode_response(data, ipv6=self.ipv6)

    async def connect(self) -> int:
        reply = await self.ask(ConnectRequest(1).encode())
        assert isinstance(reply, ConnectResponse)
        return reply.connection_id


def announce_packet(cid: int, peer: int = 1, **changes: object) -> bytes:
    fields: dict[str, object] = dict(
        connection_id=cid, transaction_id=77, info_hash=HASH, peer_id=peer.to_bytes(20, "big"),
        downloaded=0, left=1, uploaded=0, event=Event.STARTED, ip=0, key=0, num_want=-1,
        port=8000 + peer,
    )  # fmt: skip
    fields.update(changes)
    return AnnounceRequest(**fields).encode()  # type: ignore[arg-type]


async def test_udp_connect_announce_scrape(server: TrackerServer) -> None:
    async with UdpClient(server) as one, UdpClient(server) as two:
        await one.ask(announce_packet(await one.connect(), 1))
        reply = await two.ask(announce_packet(await two.connect(), 2, left=0))
        assert isinstance(reply, AnnounceResponse) and reply.transaction_id == 77
        assert reply.addresses() == [("127.0.0.1", 8001)]
        assert (reply.seeders, reply.leechers, reply.interval) == (1, 1, 60)
        scraped = await one.ask(ScrapeRequest(await one.connect(), 5, (HASH, bytes(20))).encode())
        assert scraped == ScrapeResponse(5, (SwarmCounts(1, 1, 0), SwarmCounts()))


async def test_udp_and_http_share_swarms(
    server: TrackerServer, http: aiohttp.ClientSession
) -> None:
    await get_bencoded(http, announce_url(server, 1))
    async with UdpClient(server) as udp:
        reply = await udp.ask(announce_packet(await udp.connect(), 2))
    assert isinstance(reply, AnnounceResponse)
    assert reply.addresses() == [("127.0.0.1", 7001)]


async def test_udp_spoofed_connection_id_and_garbage(server: TrackerServer) -> None:
    async with UdpClient(server) as udp:
        packet = announce_packet(0x1234)
        reply = await udp.ask(packet)
        assert isinstance(reply, ErrorResponse) and "connection id" in reply.message
        await udp.send(b"\x00" * 10)
        assert await udp.receive(timeout=0.3) is None
        # the server is still alive and answering
        assert await udp.connect()


async def test_udp_connect_flood_is_rate_limited() -> None:
    server = await started(connect_rate=0.001, connect_burst=5.0)
    try:
        async with UdpClient(server) as udp:
            for n in range(30):
                await udp.send(ConnectRequest(n).encode())
            replies = 0
            while await udp.receive(timeout=0.3) is not None:
                replies += 1
        assert replies == 5
        assert server.context is not None
        assert server.context.metrics.get("udp", "connects") == 5
    finally:
        await server.stop()


def require_ipv6_loopback() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        missing("this machine has no IPv6 loopback")


@pytest.mark.parametrize(
    ("required", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_no_ipv6_loopback_fails_when_tools_are_required(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type[BaseException]
) -> None:
    def no_ipv6(self: socket.socket, address: object) -> None:
        raise OSError(99, "Cannot assign requested address")

    monkeypatch.setattr(socket.socket, "bind", no_ipv6)
    monkeypatch.setenv("BITSWARM_REQUIRE_TOOLS", required)
    with pytest.raises(outcome, match="this machine has no IPv6 loopback"):
        require_ipv6_loopback()


async def test_http_over_ipv6_fills_peers6(http: aiohttp.ClientSession) -> None:
    require_ipv6_loopback()
    server = await started(http=("::1", 0), udp=None)
    try:
        await get_bencoded(http, announce_url(server, 1))
        reply = await get_bencoded(http, announce_url(server, 2))
        assert reply[b"peers"] == b""
        assert unpack_peers(reply[b"peers6"], 18) == [("::1", 7001)]  # type: ignore[arg-type]
    finally:
        await server.stop()


async def test_udp_over_ipv6_returns_18_byte_peers() -> None:
    require_ipv6_loopback()
    server = await started(http=None, udp=("::1", 0))
    try:
        async with (
            UdpClient(server, socket.AF_INET6) as one,
            UdpClient(server, socket.AF_INET6) as two,
        ):
            await one.ask(announce_packet(await one.connect(), 1))
            reply = await two.ask(announce_packet(await two.connect(), 2))
        assert isinstance(reply, AnnounceResponse) and reply.ipv6
        assert reply.addresses() == [("::1", 8001)]
    finally:
        await server.stop()


async def test_context_manager_starts_and_stops() -> None:
    config = TrackerConfig(http=("127.0.0.1", 0), udp=("127.0.0.1", 0))
    async with TrackerServer(config) as server:
        assert server.http_address and server.udp_address
        assert "open, store memory" in server.describe()
        async with UdpClient(server) as udp:
            assert await udp.connect()
    assert server.context is None and server.http_address is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind(server.udp_address)  # the port was released


async def test_unknown_store_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown store"):
        await open_store("postgres://x", 10)
