"""The UDP tracker on a socket of its own, read in batches (BEP 15, 41).

A thin adapter: every datagram goes to the sans-I/O
:class:`~bitswarm.core.tracker.udp_server.UdpTracker`, which answers at once
(connect, error), says nothing, or hands back a store job.

The socket is read when the event loop says it is readable, up to
:data:`BATCHES_PER_WAKE` batches of datagrams at a time
(:mod:`~bitswarm.aio.datagram_batch`: one ``recvmmsg`` per batch, one
``sendmmsg`` for its replies), so the per-datagram cost is the tracker's
own work and not the system calls'. A store that answers without waiting (the
memory store, an :class:`~bitswarm.stores.base.ImmediateStore`) runs the job
inline and the reply leaves with its batch: no task, no future, no trip
through the event loop. A plain announce goes further, down the tracker's hot
path (:meth:`~bitswarm.core.tracker.udp_server.UdpTracker.announce_inline`):
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
from typing import Any

from bitswarm.aio.datagram_batch import DatagramBatches
from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.core.tracker.model import AnnounceResult, SwarmCounts
from bitswarm.core.tracker.udp import ErrorResponse
from bitswarm.core.tracker.udp_server import AnnounceJob, ScrapeJob, Send, UdpTracker
from bitswarm.stores.base import ImmediateStore

log = logging.getLogger(__name__)

MAX_JOBS = 1024
"""Store requests in flight before new ones are dropped."""

BATCHES_PER_WAKE = 8
"""Batches read before the event loop gets its turn back (HTTP shares it)."""

Job = AnnounceJob | ScrapeJob


class UdpTrackerEndpoint:
    """Reads datagrams from a bound UDP socket and sends the answers of :class:`UdpTracker`."""

    def __init__(
        self,
        tracker: UdpTracker,
        context: TrackerContext,
        sock: socket.socket,
        *,
        batched: bool = True,
    ) -> None:
        self.tracker = tracker
        self.context = context
        self.sock = sock
        self._io = DatagramBatches(sock, batched=batched)
        self._jobs: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    @property
    def address(self) -> tuple[Any, ...]:
        return tuple(self.sock.getsockname())

    async def close(self) -> None:
        """Stop reading, let the store jobs in flight answer, close the socket."""
        if self.sock.fileno() < 0:
            return
        self._loop.remove_reader(self.sock.fileno())
        if self._jobs:
            await asyncio.gather(*self._jobs, return_exceptions=True)
        self.sock.close()

    def _readable(self) -> None:
        io = self._io
        for _ in range(BATCHES_PER_WAKE):
            try:
                batch = io.receive()
                if not batch:
                    return
                io.send(self._answers(batch))
            except OSError:  # the socket itself failed (not one client): say so, keep serving
                log.exception("UDP tracker socket error")
                self.context.metrics.count("udp", "errors")
                return

    def _answers(self, batch: list[tuple[bytes, bytes, Any]]) -> list[tuple[bytes, Any]]:
        """The replies due at once; store jobs that must wait answer on their own."""
        context = self.context
        now = context.clock()
        immediate = context.immediate_store()
        replies = []
        if immediate is None:
            for data, ip, address in batch:
                reply = self._judge(data, address, ip, now, None)
                if reply is not None:
                    replies.append((reply, address))
            return replies
        inline = self.tracker.announce_inline
        values = immediate.announce_values
        announced = 0
        for data, ip, address in batch:
            try:
                reply = inline(data, ip, now, values)
            except Exception:  # the client must hear something, and the server must go on
                reply = self._failed(int.from_bytes(data[12:16], "big"))
            else:
                if reply is None:
                    reply = self._judge(data, address, ip, now, immediate)
                    if reply is None:
                        continue
                else:
                    announced += 1
            replies.append((reply, address))
        if announced:
            context.metrics.count("udp", "announces", announced)
        return replies

    def _judge(
        self, data: bytes, address: Any, ip: bytes, now: float, immediate: ImmediateStore | None
    ) -> bytes | None:
        """The general path, for every datagram the hot path declines: the reply due now."""
        metrics = self.context.metrics
        outcome = self.tracker.datagram_received(data, ip, now)
        if outcome is None:
            metrics.count("udp", "errors")
        elif isinstance(outcome, Send):
            metrics.count("udp", "errors" if outcome.error else "connects")
            return outcome.data
        elif immediate is not None:
            return self._answer_now(outcome, immediate, now)
        elif len(self._jobs) < MAX_JOBS:
            task = asyncio.ensure_future(self._run(outcome, address))
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)
        else:
            metrics.count("udp", "errors")
        return None

    def _answer_now(self, job: Job, store: ImmediateStore, now: float) -> bytes:
        try:
            if isinstance(job, AnnounceJob):
                return self._announced(job, store.announce_now(job.announcement, now))
            return self._scraped(job, store.scrape_now(job.info_hashes))
        except Exception:  # the client must hear something, and the server must go on
            return self._failed(job.transaction_id)

    async def _run(self, job: Job, address: Any) -> None:
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
        if self.sock.fileno() >= 0:
            self._io.send([(reply, address)])

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
