"""Keeping one tracker process in step with the others that serve the same tracker.

Every process checks announces against its own
:class:`~bitswarm.core.tracker.access.AccessList`, a pair of sets in memory,
and counts requests in its own :class:`~bitswarm.aio.tracker_metrics.TrackerMetrics`,
so no announce waits for anything. What makes the processes one tracker is a
store's :class:`~bitswarm.stores.base.SharedState` (the Redis store has one):

- at start, the lists given on the command line are added to the shared
  lists (which a restart finds again), then the process loads them;
- an admin change is written to the shared lists, then applied to the
  local copy at once, so the process that took it honours it immediately;
- every :data:`SYNC_PERIOD` seconds the process reads the lists' version
  (one small read) and reloads them only when it moved, so a change made
  through any process or host applies everywhere within about a second;
- in the same beat it adds what its counters gained since the last time to
  the shared counters (one batch, skipped when nothing was counted), and
  ``/stats`` sends this process's unsent part and reads the totals in the
  same round trip, so the figures are the whole tracker's, other
  processes' last second aside.

Without shared state (the memory store) the lists and counters live only in
this process: changes apply here and are lost at exit, and the figures of one
of several workers are that worker's own (:attr:`TrackerSync.per_worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from bitswarm.aio.tracker_metrics import KINDS, PROTOCOLS, Counts, TrackerMetrics
from bitswarm.core.tracker.access import AccessKind, AccessList, check_info_hash, check_passkey
from bitswarm.stores.base import SharedState

log = logging.getLogger(__name__)

SYNC_PERIOD = 1.0
"""Seconds between two looks at the shared state."""


class SharedStateUnavailable(Exception):
    """The shared state could not be read or changed (the store is down); nothing changed."""


class TrackerSync:
    """The access lists and request counters of one process, backed by ``shared`` if any.

    ``worker`` is this process's number when it is one of several workers.
    """

    def __init__(
        self,
        access: AccessList,
        metrics: TrackerMetrics,
        shared: SharedState | None,
        *,
        worker: int | None = None,
        period: float = SYNC_PERIOD,
    ) -> None:
        self.access = access
        self.metrics = metrics
        self.shared = shared
        self.worker = worker
        self.period = period
        self._version: int | None = None
        self._sent: Counts = {}
        self._sending = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def per_worker(self) -> bool:
        """Whether the figures are this worker's alone (several workers, nothing shared)."""
        return self.shared is None and self.worker is not None

    async def start(self, passkeys: Sequence[str], info_hashes: Sequence[bytes]) -> None:
        """Seed the lists with these entries, load the shared ones, and keep them in step."""
        for passkey in passkeys:
            self.access.add_passkey(passkey)
        for info_hash in info_hashes:
            self.access.allow(info_hash)
        if self.shared is None:
            return
        await self.shared.change_access("passkeys", passkeys, True)
        await self.shared.change_access("torrents", [h.hex() for h in info_hashes], True)
        await self._reload()
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        """Stop following, after sending the last counts (a store that is down loses them)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            try:
                await self._send_counts()
            except Exception:
                log.warning("could not send the last request counts", exc_info=True)

    async def request_counts(self) -> Counts:
        """The request counters: the whole tracker's if shared (sent then read), else ours."""
        if self.shared is None:
            return self.metrics.counts()
        try:
            return await self._send_counts()
        except Exception as error:
            raise SharedStateUnavailable(f"cannot read the shared counters: {error}") from error

    async def add_passkey(self, passkey: str) -> None:
        """Accept ``passkey`` (:class:`ValueError` if it does not look like one)."""
        await self._change("passkeys", check_passkey(passkey), True)

    async def remove_passkey(self, passkey: str) -> bool:
        """Stop accepting ``passkey``; whether it was accepted."""
        return await self._change("passkeys", passkey, False)

    async def allow(self, info_hash: bytes) -> None:
        """Serve this torrent (:class:`ValueError` unless it is 20 bytes)."""
        await self._change("torrents", check_info_hash(info_hash).hex(), True)

    async def disallow(self, info_hash: bytes) -> bool:
        """Stop serving this torrent; whether it was served."""
        return await self._change("torrents", info_hash.hex(), False)

    async def snapshot(self) -> dict[str, object]:
        """The lists as the admin API shows them, fresh from the shared state if any."""
        if self.shared is not None:
            try:
                await self._reload()
            except Exception as error:
                raise SharedStateUnavailable(f"cannot read the shared lists: {error}") from error
        return self.access.snapshot()

    async def _change(self, kind: AccessKind, item: str, add: bool) -> bool:
        shared_changed = None
        if self.shared is not None:
            try:
                shared_changed = await self.shared.change_access(kind, [item], add) > 0
            except Exception as error:
                raise SharedStateUnavailable(f"cannot change the shared lists: {error}") from error
        changed = self.access.change(kind, item, add)
        return changed if shared_changed is None else shared_changed

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.step()
            except Exception:  # a store hiccup: keep serving the lists we have, try again
                log.warning("could not follow the shared access lists", exc_info=True)
            try:
                if self.metrics.counts() != self._sent:  # counters only grow
                    await self._send_counts()
            except Exception:  # kept, and sent with the next batch
                log.warning("could not send the request counts", exc_info=True)

    async def step(self) -> None:
        """One look at the shared state: reload the lists if their version moved."""
        assert self.shared is not None  # only followed when shared
        if await self.shared.access_version() != self._version:
            await self._reload()

    async def _send_counts(self) -> Counts:
        """Add what was counted since the last batch to the shared totals; the totals after."""
        assert self.shared is not None
        async with self._sending:  # one batch at a time, so nothing is sent twice
            counted = self.metrics.counts()
            sent = self._sent
            deltas = {
                f"{protocol}:{kind}": count - sent.get((protocol, kind), 0)
                for (protocol, kind), count in counted.items()
                if count != sent.get((protocol, kind), 0)
            }
            totals = await self.shared.add_requests(deltas)
            self._sent = counted
        return {(p, k): totals.get(f"{p}:{k}", 0) for p in PROTOCOLS for k in KINDS}

    async def _reload(self) -> None:
        assert self.shared is not None
        version, passkeys, info_hashes = await self.shared.load_access()
        self.access.replace(passkeys, info_hashes)
        self._version = version
