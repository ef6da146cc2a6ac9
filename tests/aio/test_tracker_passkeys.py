"""A private tracker's passkey in the path, for announces and their BEP 48 scrapes.

BEP 48 derives the scrape URL from the announce URL by replacing the last
``announce`` of its path with ``scrape``: ``/<passkey>/announce`` scrapes at
``/<passkey>/scrape``. Both HTTP fronts must answer it: the lean one (the
memory store answers inline) and aiohttp's routes (a store that must be
awaited). aiohttp's replies carry a ``Server`` header, the lean front's none,
which tells the two apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote_from_bytes

import aiohttp
import pytest
from tracker_helpers import HASH, AwaitedOnly, announce_url, get_bencoded, started

from bitswarm.aio.tracker_server import TrackerServer
from bitswarm.core.tracker.http_client import scrape_url

PASSKEY = "passkey-0001"


@pytest.fixture(params=["lean", "aiohttp"])
async def private(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TrackerServer, str]]:
    """A private tracker knowing :data:`PASSKEY` and :data:`HASH`, and which front serves it."""
    server = await started(udp=None, private=True, passkeys=(PASSKEY,), allowed_info_hashes=(HASH,))
    assert server.context is not None
    if request.param == "aiohttp":
        server.context.store = AwaitedOnly(server.context.store)  # type: ignore[assignment]
    try:
        yield server, request.param
    finally:
        await server.stop()


def base(server: TrackerServer) -> str:
    assert server.http_address is not None
    host, port = server.http_address
    return f"http://{host}:{port}"


async def served_by_aiohttp(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(url) as response:
        return "Server" in response.headers


@pytest.mark.parametrize("announce_path", [f"/{PASSKEY}/announce", f"/announce/{PASSKEY}"])
async def test_the_scrape_of_a_passkey_announce_url_is_answered(
    private: tuple[TrackerServer, str], announce_path: str
) -> None:
    server, front = private
    async with aiohttp.ClientSession() as http:
        announced = await get_bencoded(http, announce_url(server, 1, path=announce_path))
        assert b"failure reason" not in announced, announced
        if announce_path.endswith("/announce"):
            url = scrape_url(base(server) + announce_path, [HASH])
            assert url.startswith(f"{base(server)}/{PASSKEY}/scrape?")
        else:  # BEP 48 derives no scrape URL from this form; its mirror is served
            url = f"{base(server)}/scrape/{PASSKEY}?info_hash={quote_from_bytes(HASH, safe='')}"
        scraped = await get_bencoded(http, url)
        assert scraped == {b"files": {HASH: {b"complete": 0, b"downloaded": 0, b"incomplete": 1}}}
        assert await served_by_aiohttp(http, url) == (front == "aiohttp")


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/wrong-key-0001/scrape", b"unknown passkey"),
        ("/scrape", b"this tracker is private: announce with your passkey in the URL"),
    ],
)
async def test_a_scrape_without_a_known_passkey_is_refused(
    private: tuple[TrackerServer, str], path: str, refusal: bytes
) -> None:
    server, _ = private
    async with aiohttp.ClientSession() as http:
        url = scrape_url(base(server) + path.replace("scrape", "announce"), [HASH])
        assert url.startswith(base(server) + path + "?")
        assert await get_bencoded(http, url) == {b"failure reason": refusal}
