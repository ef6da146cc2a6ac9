"""One aiohttp client session for a whole peer session, opened at its first request.

Importing aiohttp and building its default TLS contexts take about a third
of a second, most of the start-up of ``bitswarm download``, and many sessions
never speak HTTP: peers given on the command line, UDP trackers, a seed with
no tracker. So the trackers of a session share a :class:`LazyHttp`, which
imports aiohttp and opens its client when the first HTTP request is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp


class LazyHttp:
    """An aiohttp ``ClientSession`` made on first use, and closed with :meth:`close`."""

    def __init__(self) -> None:
        self._client: aiohttp.ClientSession | None = None

    @property
    def opened(self) -> bool:
        return self._client is not None

    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            import aiohttp

            self._client = aiohttp.ClientSession()
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
