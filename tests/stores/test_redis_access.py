"""A private tracker's access lists in Redis: every process applies a change, a restart keeps it.

Each in-process :class:`TrackerServer` stands for one tracker process (or
host): they share nothing but Redis. The last test runs ``bitswarm tracker
--workers 2`` for real and changes the lists through whichever worker the
kernel picks.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bitswarm.aio.tracker_client import AnnounceFailed, TrackerClient
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.aio.tracker_shared import SYNC_PERIOD
from bitswarm.core.bencode import decode
from bitswarm.core.tracker.model import Event
from bitswarm.stores.redis_shared import RedisSharedState
from tracker_processes import announce_over_http, free_port, running_tracker

HASH = b"\x3c" * 20
KEY = "passkey-0042"
TOKEN = "admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT = 5 * SYNC_PERIOD
"""How long a change may take to reach another process (a poll period, plus slack)."""


@asynccontextmanager
async def private_tracker(redis_url: str, **changes: object) -> AsyncIterator[TrackerServer]:
    where = ("127.0.0.1", 0)
    options: dict[str, object] = dict(
        http=where, udp=where, store_url=redis_url, private=True, admin_token=TOKEN
    )
    options.update(changes)
    server = TrackerServer(TrackerConfig(**options))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def base(server: TrackerServer) -> str:
    assert server.http_address is not None
    return "http://{}:{}".format(*server.http_address)


async def refusal(http: aiohttp.ClientSession, server: TrackerServer, passkey: str) -> bytes | None:
    """The ``failure reason`` of an HTTP announce with ``passkey``, or ``None`` if served."""
    query = (
        f"info_hash={quote_from_bytes(HASH, safe='')}&peer_id=-BS0100-000000000001"
        "&port=7001&uploaded=0&downloaded=0&left=5"
    )
    async with http.get(f"{base(server)}/announce/{passkey}?{query}") as response:
        reply = decode(await response.read())
    assert isinstance(reply, dict)
    reason = reply.get(b"failure reason")
    assert reason is None or isinstance(reason, bytes)
    return reason


async def admin(http: aiohttp.ClientSession, server: TrackerServer, method: str, path: str) -> int:
    async with http.request(method, f"{base(server)}/admin/{path}", headers=AUTH) as response:
        return response.status


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``check`` held; fails after ``seconds``."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < seconds, f"not true within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_a_change_through_one_tracker_is_honoured_by_the_other(redis_url: str) -> None:
    async with (
        private_tracker(redis_url) as first,
        private_tracker(redis_url) as second,
        aiohttp.ClientSession() as http,
    ):
        assert await refusal(http, second, KEY) == b"unknown passkey"
        assert await admin(http, first, "PUT", f"passkeys/{KEY}") == 200
        assert await admin(http, first, "PUT", f"torrents/{HASH.hex()}") == 200
        assert await refusal(http, first, KEY) is None  # the tracker that took it, at once
        await within(WAIT, lambda: _served(http, second, KEY))
        assert second.udp_address is not None
        udp_url = "udp://{}:{}/announce/{}".format(*second.udp_address, KEY)
        async with TrackerClient([[udp_url]]) as client:
            found = await client.announce(HASH, b"-BS0100-udp000000001", 7002, 0, 0, 5, Event.NONE)
        assert found.peers == (("127.0.0.1", 7001),)

        assert await admin(http, second, "DELETE", f"passkeys/{KEY}") == 200
        await within(WAIT, lambda: _refused(http, first, KEY))
        assert await admin(http, first, "DELETE", f"passkeys/{KEY}") == 404
        async with TrackerClient([[udp_url]]) as client:
            try:
                await client.announce(HASH, b"-BS0100-udp000000001", 7002, 0, 0, 5, Event.NONE)
            except AnnounceFailed as failed:
                assert "unknown passkey" in str(failed)
            else:
                raise AssertionError("a removed passkey was still served over UDP")


async def _served(http: aiohttp.ClientSession, server: TrackerServer, passkey: str) -> bool:
    return await refusal(http, server, passkey) is None


async def _refused(http: aiohttp.ClientSession, server: TrackerServer, passkey: str) -> bool:
    return await refusal(http, server, passkey) == b"unknown passkey"


async def test_a_restart_keeps_the_lists_and_command_line_lists_seed_them(
    redis_url: str,
) -> None:
    seeded = dict(passkeys=("passkey-seeded",), allowed_info_hashes=(HASH,))
    async with private_tracker(redis_url, **seeded) as first, aiohttp.ClientSession() as http:
        assert await admin(http, first, "PUT", f"passkeys/{KEY}") == 200
    async with private_tracker(redis_url) as restarted, aiohttp.ClientSession() as http:
        assert await refusal(http, restarted, KEY) is None
        assert await refusal(http, restarted, "passkey-seeded") is None
        async with http.get(f"{base(restarted)}/admin/access", headers=AUTH) as response:
            assert await response.json() == {
                "private": True,
                "passkeys": sorted([KEY, "passkey-seeded"]),
                "info_hashes": [HASH.hex()],
            }


async def test_a_change_the_store_cannot_take_is_a_503_and_changes_nothing(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_args: object) -> int:
        raise RedisConnectionError("Connection refused")

    async with private_tracker(redis_url) as server, aiohttp.ClientSession() as http:
        monkeypatch.setattr(RedisSharedState, "change_access", down)
        async with http.put(f"{base(server)}/admin/passkeys/{KEY}", headers=AUTH) as response:
            assert response.status == 503
            assert "cannot change the shared lists: Connection refused" in await response.text()
        assert await refusal(http, server, KEY) == b"unknown passkey"


async def test_malformed_entries_in_redis_are_skipped(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        shared = RedisSharedState(client, "bitswarm")
        assert await shared.change_access("passkeys", [KEY, KEY], True) == 1
        version = await shared.access_version()
        assert await shared.change_access("passkeys", [KEY], True) == 0
        assert await shared.access_version() == version  # no change, no reload anywhere
        await client.sadd("bitswarm:access:passkeys", "no", b"\xff" * 10)
        await client.sadd("bitswarm:access:torrents", "zz" * 20, "ab", HASH.hex())
        assert await shared.load_access() == (version, {KEY}, {HASH})
    finally:
        await client.aclose()


def _announce_status(port: int, passkey: str) -> object:
    """The ``failure reason`` of an announce with ``passkey``, or ``None`` if served."""
    return announce_over_http(port, 9, info_hash=HASH, path=f"/announce/{passkey}").get(
        b"failure reason"
    )


def _admin_put(port: int, path: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/{path}", method="PUT", headers=AUTH
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        status: int = response.status
    return status


def test_workers_of_one_tracker_agree_on_a_change(redis_url: str) -> None:
    port = free_port()
    args = ("--store", redis_url, "--private", "--admin-token", TOKEN, "--allow", HASH.hex())
    with running_tracker(port, *args, workers=2):
        assert _announce_status(port, KEY) == b"unknown passkey"
        assert _admin_put(port, f"passkeys/{KEY}") == 200
        # Fresh connections land on either worker (SO_REUSEPORT hashes each one):
        # once the change has had a poll period to spread, every one is served.
        deadline = time.monotonic() + WAIT
        served_in_a_row = 0
        while served_in_a_row < 30:
            assert time.monotonic() < deadline, "a worker kept refusing the new passkey"
            served = _announce_status(port, KEY) is None
            served_in_a_row = served_in_a_row + 1 if served else 0
