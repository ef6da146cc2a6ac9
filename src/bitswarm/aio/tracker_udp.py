"""The UDP tracker on an asyncio datagram endpoint (BEP 15, 41).

A thin adapter: every datagram goes to the sans-I/O
:class:`~bitswarm.core.tracker.udp_server.UdpTracker`, which answers at once
(connect, error), says nothing, or hands back a store job.

A store that answers without waiting (the memory store, an
:class:`~bitswarm.stores.base.ImmediateStore`) runs the job inside
``datagram_received`` and the reply leaves before the next datagram is read:
no task, no future, no trip through the event loop, which is most of the cost
of an announce in Python. A plain announce goes further, down the tracker's
hot path (:meth:`~bitswarm.core.tracker.udp_server.UdpTracker.announce_inline`):
from the packet to the store and back to bytes with no message objects.
A networked store (Redis) gets a task per job; those in flight are bounded,
so a flood cannot pile up unbounded tasks: over the bound, authenticated
requests are dropped and the client retries (BEP 15 timeouts). A failing
store is answered with an error packet either way.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, cast

from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.core.tracker.model import AnnounceResult, SwarmCounts
from bitswarm.core.tracker.udp import ErrorResponse
from bitswarm.core.tracker.udp_server import AnnounceJob, ScrapeJob, Send, UdpTracker
from bitswarm.stores.base import ImmediateStore

log = logging.getLogger(__name__)

MAX_JOBS = 1024
"""Store requests in flight before new ones are dropped."""

_V4_MAPPED = bytes(10) + b"\xff\xff"

Job = AnnounceJob | ScrapeJob


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
        context = self.context
        metrics = context.metrics
        now = context.clock()
        ip = packed_ip(addr[0])
        immediate = context.immediate_store()
        if immediate is not None:
            try:
                reply = self.tracker.announce_inline(data, ip, now, immediate.announce_values)
            except Exception:  # the client must hear something, and the server must go on
                reply = self._failed(int.from_bytes(data[12:16], "big"))
            else:
                if reply is None:
                    self._judge(data, addr, ip, now, immediate)
                    return
                metrics.count("udp", "announces")
            self._send(reply, addr)
            return
        self._judge(data, addr, ip, now, None)

    def _judge(
        self,
        data: bytes,
        addr: tuple[str | Any, int],
        ip: bytes,
        now: float,
        immediate: ImmediateStore | None,
    ) -> None:
        """The general path: every datagram the hot path declines."""
        metrics = self.context.metrics
        outcome = self.tracker.datagram_received(data, ip, now)
        if outcome is None:
            metrics.count("udp", "errors")
        elif isinstance(outcome, Send):
            metrics.count("udp", "errors" if outcome.error else "connects")
            self._send(outcome.data, addr)
        elif immediate is not None:
            self._send(self._answer_now(outcome, immediate, now), addr)
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

    def _answer_now(self, job: Job, store: ImmediateStore, now: float) -> bytes:
        try:
            if isinstance(job, AnnounceJob):
                return self._announced(job, store.announce_now(job.announcement, now))
            return self._scraped(job, store.scrape_now(job.info_hashes))
        except Exception:  # the client must hear something, and the server must go on
            return self._failed(job.transaction_id)

    async def _run(self, job: Job, addr: tuple[str | Any, int]) -> None:
        store = self.context.store
        try:
            if isinstance(job, AnnounceJob):
                reply = self._announced(
                    job, await store.announce(job.announcement, self.context.clock())
                )
            else:
                reply = self._scraped(job, await store.scrape(job.info_hashes))
        except Exception:  # the client must hear something, and the server must go on
            reply = self._failed(job.transaction_id)
        self._send(reply, addr)

    def _announced(self, job: AnnounceJob, result: AnnounceResult) -> bytes:
        self.context.metrics.count("udp", "announces")
        return self.tracker.announce_reply(job, result)

    def _scraped(self, job: ScrapeJob, counts: list[SwarmCounts]) -> bytes:
        self.context.metrics.count("udp", "scrapes")
        return self.tracker.scrape_reply(job, counts)

    def _failed(self, transaction_id: int) -> bytes:
        log.exception("UDP tracker job failed")
        self.context.metrics.count("udp", "errors")
        return ErrorResponse(transaction_id, "internal tracker error").encode()

    def _send(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


def packed_ip(host: str) -> bytes:
    """The 4- or 16-byte form of a datagram's source; an IPv4-mapped IPv6 address as IPv4."""
    if ":" not in host:
        return socket.inet_pton(socket.AF_INET, host)
    packed = socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
    return packed[12:] if packed.startswith(_V4_MAPPED) else packed
