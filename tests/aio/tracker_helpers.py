"""A tracker server on 127.0.0.1 for the tests, and the HTTP requests they send it."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import aiohttp

from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.bencode import decode
from bitswarm.core.tracker.policy import TrackerPolicy

HASH = bytes(range(100, 120))
TOKEN = "admin-token-for-tests"


async def started(**changes: object) -> TrackerServer:
    """A started server on free ports of 127.0.0.1; ``changes`` override its config."""
    options: dict[str, object] = dict(
        http=("127.0.0.1", 0), udp=("127.0.0.1", 0), policy=TrackerPolicy(interval=60),
        admin_token=TOKEN,
    )  # fmt: skip
    options.update(changes)
    server = TrackerServer(TrackerConfig(**options))  # type: ignore[arg-type]
    await server.start()
    return server


def announce_url(server: TrackerServer, peer: int, path: str = "/announce", **extra: str) -> str:
    """The announce of peer number ``peer`` for :data:`HASH`, at ``path`` of ``server``."""
    assert server.http_address is not None
    host, port = server.http_address
    params = {
        "info_hash": quote_from_bytes(HASH, safe=""),
        "peer_id": quote_from_bytes(peer.to_bytes(20, "big"), safe=""),
        "port": str(7000 + peer), "uploaded": "0", "downloaded": "0", "left": "10",
    }  # fmt: skip
    params.update(extra)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{path}?{query}"


async def get_bencoded(
    session: aiohttp.ClientSession, url: str, **kw: object
) -> dict[bytes, object]:
    """GET ``url``; the bencoded dictionary of a 200 reply."""
    async with session.get(url, **kw) as response:  # type: ignore[arg-type]
        assert response.status == 200
        body = decode(await response.read())
    assert isinstance(body, dict)
    return dict(body)


class AwaitedOnly:
    """A store's coroutines without its inline methods, so aiohttp serves every request."""

    def __init__(self, store: object) -> None:
        self.store = store

    def __getattr__(self, name: str) -> object:
        if name.endswith("_now"):
            raise AttributeError(name)
        return getattr(self.store, name)
