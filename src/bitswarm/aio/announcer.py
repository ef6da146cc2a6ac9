"""Keeps one torrent announced to its trackers: started, periodic, completed, stopped (BEP 3, 12).

BEP 3's life cycle of a peer at its tracker: the first announce says
``started``, the following ones come every ``interval`` seconds as the
tracker asks, one says ``completed`` when the download finishes, and the last
says ``stopped`` so the tracker forgets the peer at once rather than after its
time-out. Every announce carries the transfer totals (``uploaded``,
``downloaded``, ``left``) read from the torrent at that moment.

When every tracker fails, :class:`Announcer` keeps trying with a back-off
(5 s doubling to the tracker interval cap), and keeps the last reason so the
command line can tell the user. The torrent may ask for peers early
(:meth:`Announcer.want_peers`, e.g. when it has too few); the tracker's
``min interval`` is honoured for that. A tracker's ``warning message`` does
not fail the announce; each distinct one is kept in
:attr:`Announcer.warnings` for the user to see once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bitswarm.aio.tracker_client import AnnounceFailed, TrackerClient
from bitswarm.core.tracker.model import Event

Address = tuple[str, int]

FIRST_RETRY = 5.0
MAX_RETRY = 300.0
DEFAULT_MIN_INTERVAL = 30.0
"""Early announces (for more peers) come at most this often unless the tracker says."""
STOP_TIMEOUT = 3.0
"""How long the ``stopped`` announce may delay shutting down."""
MAX_WARNINGS = 16
"""Distinct tracker warnings kept; a tracker that invents a new one each time is not heard."""


@dataclass(frozen=True, slots=True)
class Totals:
    """The transfer counters every announce reports."""

    uploaded: int
    downloaded: int
    left: int


class Announcer:
    def __init__(
        self,
        client: TrackerClient,
        info_hash: bytes,
        peer_id: bytes,
        port: int,
        totals: Callable[[], Totals],
        on_peers: Callable[[Sequence[Address]], None],
    ) -> None:
        self._client = client
        self._info_hash = info_hash
        self._peer_id = peer_id
        self._port = port
        self._totals = totals
        self._on_peers = on_peers
        self._wake = asyncio.Event()
        self._event = Event.NONE
        """The event the next announce says once ``started`` has been answered."""
        self._min_interval = DEFAULT_MIN_INTERVAL
        self._task: asyncio.Task[None] | None = None
        self.announces = 0
        """Announces a tracker answered."""
        self.last_error: str | None = None
        """Why the last announce failed, or ``None`` once one succeeds."""
        self.warnings: list[tuple[str, str]] = []
        """``(tracker, message)``: each distinct ``warning message``, as first sent."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def completed(self) -> None:
        """The download finished: say ``completed`` now."""

        self._event = Event.COMPLETED
        self._wake.set()

    def want_peers(self) -> None:
        """Announce early for more peers (no sooner than the tracker's minimum interval)."""

        self._wake.set()

    async def stop(self) -> None:
        """End the periodic announces and say ``stopped`` (briefly: shutdown must not hang)."""

        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.announces:
            with contextlib.suppress(AnnounceFailed, TimeoutError):
                await asyncio.wait_for(self._announce(Event.STOPPED), STOP_TIMEOUT)

    async def _announce(self, event: Event) -> float:
        totals = self._totals()
        result = await self._client.announce(
            self._info_hash,
            self._peer_id,
            self._port,
            totals.uploaded,
            totals.downloaded,
            totals.left,
            event,
        )
        self.announces += 1
        self.last_error = None
        reply = result.reply
        self._keep_warning(result.tracker, reply.warning)
        if reply.min_interval is not None:
            self._min_interval = float(reply.min_interval)
        self._on_peers(result.peers)
        return float(reply.interval)

    def _keep_warning(self, tracker: str, warning: str | None) -> None:
        if not warning or len(self.warnings) >= MAX_WARNINGS:
            return
        if all(known != warning for _, known in self.warnings):
            self.warnings.append((tracker, warning))

    async def _run(self) -> None:
        """Announce until cancelled. Until a tracker has answered, every try says ``started``
        (BEP 3: the first announce must); an event that fails is said again on the next try,
        and one asked for meanwhile (``completed``) waits for its own turn."""

        retry = FIRST_RETRY
        while True:
            self._wake.clear()
            event = self._event if self.announces else Event.STARTED
            try:
                interval = await self._announce(event)
                retry = FIRST_RETRY
                if event is self._event:
                    self._event = Event.NONE
                elif self._event is not Event.NONE:
                    continue  # asked for while ``started`` was being said: say it now
            except AnnounceFailed as error:
                self.last_error = str(error)
                interval, retry = retry, min(retry * 2, MAX_RETRY)
            await self._sleep(interval)

    async def _sleep(self, interval: float) -> None:
        """Wait ``interval`` seconds, or less when woken, but the minimum interval at least."""

        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), interval)
        if self._event is Event.NONE:
            rest = min(self._min_interval, interval) - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)
