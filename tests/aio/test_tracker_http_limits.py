"""Bounds on the HTTP front's open connections: in total and per client address.

Clients here come from several loopback addresses (127.0.0.1, 127.0.0.2, ...),
which Linux routes to the same loopback interface.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from raw_http import Connection, announce, connect, incomplete

from bitswarm.aio.tracker_http_limits import MAX_PER_ADDRESS, ConnectionLimits
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.tracker.policy import TrackerPolicy

BENCH_CONNECTIONS = 32
"""Keep-alive connections bench/tracker.py opens from 127.0.0.1 (its HTTP_CONNECTIONS)."""

STATS = b"GET /stats HTTP/1.1\r\nHost: t\r\n\r\n"


async def started(**changes: object) -> TrackerServer:
    options: dict[str, object] = dict(
        http=("127.0.0.1", 0), udp=None, policy=TrackerPolicy(interval=60)
    )
    options.update(changes)
    server = TrackerServer(TrackerConfig(**options))  # type: ignore[arg-type]
    await server.start()
    return server


@pytest.fixture
async def capped() -> AsyncIterator[TrackerServer]:
    server = await started(max_connections_per_address=8)
    yield server
    await server.stop()


def address(server: TrackerServer) -> tuple[str, int]:
    assert server.http_address is not None
    return server.http_address


async def refused(connection: Connection) -> bool:
    """Whether the server answered an announce with 503 and closed."""
    connection.writer.write(announce(99))
    status, headers, body = await connection.response()
    answered = (status, headers[b"connection"], body) == (503, b"close", b"too many connections\n")
    return answered and await connection.closed()


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not true within 2 s")


async def test_a_flood_from_one_address_is_refused_while_others_are_answered(
    capped: TrackerServer,
) -> None:
    held = [await connect(address(capped)) for _ in range(8)]
    for number, connection in enumerate(held, 1):  # each is accepted and served
        connection.writer.write(announce(number))
        assert await incomplete(connection) == number
    flood = [await connect(address(capped)) for _ in range(20)]
    assert all([await refused(connection) for connection in flood])
    other = await connect(address(capped), "127.0.0.2")
    other.writer.write(announce(30))
    assert await incomplete(other) == 9
    held[0].writer.write(announce(1))  # the held ones go on being served
    assert await incomplete(held[0]) == 9

    for connection in held:
        connection.writer.close()

    async def served_again() -> bool:
        connection = await connect(address(capped))
        connection.writer.write(announce(40))
        status, _, _ = await connection.response()
        connection.writer.close()
        return status == 200

    await eventually(served_again)  # closing released the address's share


async def test_connections_handed_to_aiohttp_still_count(capped: TrackerServer) -> None:
    held = [await connect(address(capped)) for _ in range(8)]
    for connection in held:
        connection.writer.write(STATS)  # served by aiohttp from here on
        assert (await connection.response())[0] == 200
    assert await refused(await connect(address(capped)))
    held[0].writer.write(announce(1))  # aiohttp answers announces on them too
    assert await incomplete(held[0]) == 1
    held[0].writer.close()

    async def one_more() -> bool:
        connection = await connect(address(capped))
        connection.writer.write(STATS)
        status, _, _ = await connection.response()
        connection.writer.close()
        return status == 200

    await eventually(one_more)


async def test_the_total_bound_holds_across_addresses() -> None:
    server = await started(max_connections=4, max_connections_per_address=0)
    try:
        held = [await connect(address(server), f"127.0.0.{n}") for n in range(2, 6)]
        for number, connection in enumerate(held, 1):
            connection.writer.write(announce(number))
            assert await incomplete(connection) == number
        assert await refused(await connect(address(server), "127.0.0.9"))
    finally:
        await server.stop()


async def test_the_default_bound_lets_the_benchmark_connect() -> None:
    assert BENCH_CONNECTIONS < MAX_PER_ADDRESS
    server = await started()
    try:
        connections = [await connect(address(server)) for _ in range(BENCH_CONNECTIONS)]
        for number, connection in enumerate(connections, 1):
            connection.writer.write(announce(number))
            assert await incomplete(connection) == number
        for connection in connections:
            connection.writer.close()
    finally:
        await server.stop()


async def test_a_second_request_with_too_many_headers_is_refused_by_aiohttp_too(
    capped: TrackerServer,
) -> None:
    connection = await connect(address(capped))
    connection.writer.write(STATS)
    assert (await connection.response())[0] == 200
    headers = b"".join(b"X-%d: a\r\n" % n for n in range(100))
    connection.writer.write(b"GET /stats HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
    assert (await connection.response())[0] in (400, 431)
    assert await connection.closed()


def test_default_bounds_and_the_open_file_limit() -> None:
    assert TrackerConfig().connection_limits().per_address == MAX_PER_ADDRESS
    behind_proxy = TrackerConfig(client_address_header="X-Forwarded-For")
    assert behind_proxy.connection_limits().per_address == 0  # every connection is the proxy's
    explicit = TrackerConfig(client_address_header="X-Real-IP", max_connections_per_address=500)
    assert explicit.connection_limits().per_address == 500
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        assert ConnectionLimits(total=soft + 1000).total < soft
    with pytest.raises(ValueError, match="at least 1"):
        TrackerConfig(max_connections=0)
    with pytest.raises(ValueError, match="0 \\(no bound\\) or more"):
        TrackerConfig(max_connections_per_address=-1)


def test_limits_count_and_release_per_address() -> None:
    limits = ConnectionLimits(total=3, per_address=2)
    assert limits.admit("a") and limits.admit("a") and not limits.admit("a")
    assert limits.admit("b") and not limits.admit("c")  # the total is reached
    limits.release("a")
    assert limits.from_address("a") == 1 and limits.open == 2
    assert limits.admit("c")
    with pytest.raises(ValueError, match="positive"):
        ConnectionLimits(total=0)
