"""The lean HTTP front of the tracker over raw sockets: pipelining, persistence, 4xx, hand-off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from raw_http import Connection, announce, incomplete
from tracker_helpers import AwaitedOnly

from bitswarm.aio import tracker_http_lean
from bitswarm.aio.tracker_answers import HttpAnswers
from bitswarm.aio.tracker_http_lean import LeanHttpProtocol, LeanHttpServer
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.bencode import decode
from bitswarm.core.tracker.policy import TrackerPolicy

HASH = b"\x07" * 20


@pytest.fixture
async def server() -> AsyncIterator[TrackerServer]:
    config = TrackerConfig(http=("127.0.0.1", 0), udp=None, policy=TrackerPolicy(interval=60))
    async with TrackerServer(config) as started:
        yield started


@pytest.fixture
async def connection(server: TrackerServer) -> AsyncIterator[Connection]:
    assert server.http_address is not None
    reader, writer = await asyncio.open_connection(*server.http_address)
    yield Connection(reader, writer)
    writer.close()


async def test_pipelined_announces_are_answered_in_order_on_one_connection(
    connection: Connection,
) -> None:
    connection.writer.write(announce(1) + announce(2) + announce(3))
    for peer in (1, 2, 3):
        status, headers, body = await connection.response()
        reply = decode(body)
        assert status == 200 and headers[b"content-type"] == b"text/plain"
        assert isinstance(reply, dict) and reply[b"incomplete"] == peer
        assert len(reply[b"peers"]) == 6 * (peer - 1)  # type: ignore[arg-type]
    connection.writer.write(announce(4))
    assert (await connection.response())[0] == 200  # still open


@pytest.mark.parametrize(
    ("version", "extra", "stays_open"),
    [
        (b"1.1", b"Connection: close\r\n", False),
        (b"1.0", b"", False),
        (b"1.0", b"Connection: keep-alive\r\n", True),
    ],
)
async def test_persistence_follows_the_request(
    connection: Connection, version: bytes, extra: bytes, stays_open: bool
) -> None:
    connection.writer.write(announce(1, version, extra))
    status, headers, _ = await connection.response()
    assert status == 200
    assert headers.get(b"connection") == (b"keep-alive" if stays_open else b"close")
    if stays_open:
        connection.writer.write(announce(1, version, extra))
        assert (await connection.response())[0] == 200
    else:
        assert await connection.closed()


async def test_a_bad_query_is_a_bencoded_failure_on_a_kept_connection(
    connection: Connection,
) -> None:
    connection.writer.write(b"GET /announce?info_hash=%zz HTTP/1.1\r\n\r\n" + announce(1))
    status, _, body = await connection.response()
    failure = decode(body)
    assert status == 200 and isinstance(failure, dict)
    assert b"percent escape" in failure[b"failure reason"]  # type: ignore[operator]
    assert (await connection.response())[0] == 200


@pytest.mark.parametrize(
    ("garbage", "status", "reason"),
    [
        (b"HELLO\r\n\r\n", 400, b"malformed request line"),
        (b"GET /announce HTTP/3.0\r\n\r\n", 505, b"HTTP/3.0 is not supported"),
        (b"GET /announce HTTP/1.1\r\nX-Long: " + b"a" * 9000, 431, b"longer than 8192"),
    ],
)
async def test_garbage_gets_a_precise_status_and_the_connection_closes(
    server: TrackerServer, connection: Connection, garbage: bytes, status: int, reason: bytes
) -> None:
    connection.writer.write(announce(1) + garbage)
    assert (await connection.response())[0] == 200
    got, headers, body = await connection.response()
    assert (got, headers[b"connection"]) == (status, b"close")
    assert reason in body
    assert await connection.closed()
    assert server.context is not None and server.context.metrics.get("http", "announces") == 1


async def test_other_paths_and_methods_are_handed_to_aiohttp(
    server: TrackerServer, connection: Connection
) -> None:
    connection.writer.write(announce(1) + b"GET /stats HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await connection.response())[0] == 200
    status, _, body = await connection.response()
    assert status == 200 and json.loads(body)["requests"]["http"]["announces"] == 1
    connection.writer.write(announce(2))  # aiohttp now serves announces on this connection too
    assert await incomplete(connection) == 2
    assert server.http_address is not None
    for request in (
        b"POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
        b"GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection(*server.http_address)
        writer.write(request)
        assert (await Connection(reader, writer).response())[0] in (404, 405)
        writer.close()


async def test_a_store_that_must_be_awaited_is_served_through_aiohttp(
    server: TrackerServer, connection: Connection
) -> None:
    assert server.context is not None
    server.context.store = AwaitedOnly(server.context.store)  # type: ignore[assignment]
    assert server.context.immediate_store() is None
    connection.writer.write(announce(1) + announce(2))
    assert [await incomplete(connection), await incomplete(connection)] == [1, 2]


async def test_an_idle_connection_is_closed(
    server: TrackerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracker_http_lean, "KEEP_ALIVE_SECONDS", 0.2)
    assert server.http_address is not None
    reader, writer = await asyncio.open_connection(*server.http_address)
    connection = Connection(reader, writer)
    writer.write(announce(1))
    assert (await connection.response())[0] == 200
    assert await connection.closed()
    writer.close()


class _Transport(asyncio.Transport):
    """Collects writes; reading can be paused."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self.reading = False

    def close(self) -> None:
        """Nothing to close."""

    def resume_reading(self) -> None:
        self.reading = True


async def test_a_full_send_buffer_pauses_reading_and_answering(server: TrackerServer) -> None:
    assert server.context is not None
    lean = LeanHttpServer(HttpAnswers(server.context, None), lambda: asyncio.Protocol())
    protocol = LeanHttpProtocol(lean, "127.0.0.1")
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.pause_writing()
    assert not transport.reading
    protocol.data_received(announce(1) + announce(2))
    assert transport.written == []
    protocol.resume_writing()
    assert transport.reading and len(transport.written) == 2
    protocol.close()
    assert not lean.connections
