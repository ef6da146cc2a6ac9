"""The UDP tracker on an asyncio datagram endpoint (BEP 15, 41).

A thin adapter: every datagram goes to the sans-I/O
:class:`~bitswarm.core.tracker.udp_server.UdpTracker`, which answers at once
(connect, error), says nothing, or hands back a store job that runs as a task.
Jobs in flight are bounded, so a flood cannot pile up unbounded tasks; over the
bound, authenticated requests are dropped and the client retries (BEP 15
timeouts). A failing store is answered with an error packet.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.core.tracker.udp import ErrorResponse
from bitswarm.core.tracker.udp_server import AnnounceJob, ScrapeJob, Send, UdpTracker

log = logging.getLogger(__name__)

MAX_JOBS = 1024
"""Store requests in flight before new ones are dropped."""


class UdpTrackerProtocol(asyncio.DatagramProtocol):
    """Receives datagrams and sends the answers of :class:`UdpTracker`."""

    def __init__(self, tracker: UdpTracker, context: TrackerContext) -> None:
        self.tracker = tracker
        self.context = context
        self.transport: asyncio.DatagramTransport | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        metrics = self.context.metrics
        outcome = self.tracker.datagram_received(data, addr[0], addr[1], self.context.clock())
        if outcome is None:
            metrics.count("udp", "errors")
        elif isinstance(outcome, Send):
            metrics.count("udp", "errors" if outcome.error else "connects")
            self._send(outcome.data, addr)
        elif len(self._jobs) < MAX_JOBS:
            task = asyncio.ensure_future(self._run(outcome, addr))
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        else:
            metrics.count("udp", "errors")

    def error_received(self, exc: Exception) -> None:
        """ICMP errors about earlier replies: nothing to do for a stateless server."""

    async def drain(self) -> None:
        """Wait for the store jobs in flight (used at shutdown)."""
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)

    async def _run(self, job: AnnounceJob | ScrapeJob, addr: tuple[str | Any, int]) -> None:
        store, metrics = self.context.store, self.context.metrics
        try:
            if isinstance(job, AnnounceJob):
                result = await store.announce(job.announcement, self.context.clock())
                reply = self.tracker.announce_reply(job, result)
                metrics.count("udp", "announces")
            else:
                counts = await store.scrape(job.info_hashes)
                reply = self.tracker.scrape_reply(job, counts)
                metrics.count("udp", "scrapes")
        except Exception:  # the client must hear something, and the server must go on
            log.exception("UDP tracker job failed")
            metrics.count("udp", "errors")
            reply = ErrorResponse(job.transaction_id, "internal tracker error").encode()
        self._send(reply, addr)

    def _send(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)
