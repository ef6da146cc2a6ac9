"""Runs one torrent's state machine on real sockets, disk threads and the loop's clock (BEP 3).

Theory of operation: :class:`~bitswarm.core.swarm.torrent.TorrentSwarm`
decides everything and acts on nothing. This runner is its driver, in the
shape of peer-design.md: every event (a peer's handshake, message or hang-up,
a block read, a piece hashed, a timer) goes into the swarm with the loop's
``now``, and after each one the runner drains ``swarm.actions()`` and carries
them out in order:

* ``Send`` is encoded onto the peer's connection; ``Disconnect`` and ``Ban``
  close it (a banned address is never taken back);
* ``WriteBlock`` and ``VerifyPiece`` go to :mod:`~bitswarm.aio.piece_writer`
  (a piece is hashed and written in one disk job, reported once it is on disk),
  ``ReadBlock`` to :mod:`~bitswarm.aio.piece_reader` (disk reads by chunks);
* ``PieceDone`` marks the piece for the resume data, ``Finished`` sets
  :attr:`TorrentRunner.finished` and announces ``completed`` if every piece is
  had (a download that skips files is finished, not complete);
  ``Stopped`` ends the torrent with its reason.

The timer is one ``loop.call_at`` kept at ``swarm.get_timer()``, asked once a
turn of the loop rather than after every message. Around the swarm the runner
keeps what is I/O: which addresses to dial (learnt from the tracker through
:class:`~bitswarm.aio.announcer.Announcer`, within an outgoing-connection
limit), the disk queue (when too many bytes wait to be written, every
connection stops reading until half have gone), resume data saved every few
seconds while it changes and once more on exit, and the figures the progress
display shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bitswarm.aio.announcer import Announcer, Totals
from bitswarm.aio.peer_connection import Address, PeerConnection
from bitswarm.aio.peer_dialer import PeerDialer
from bitswarm.aio.piece_reader import PieceReader
from bitswarm.aio.piece_writer import PieceDisk, PieceWriter
from bitswarm.aio.ratelimit import Limiters
from bitswarm.aio.torrent_status import TorrentStatus
from bitswarm.core.metainfo import Torrent
from bitswarm.core.swarm.actions import (
    Action,
    Ban,
    Disconnect,
    Finished,
    PieceDone,
    ReadBlock,
    Send,
    Stopped,
    VerifyPiece,
    WriteBlock,
)
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import PeerKey
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Handshake
from bitswarm.core.wire.messages import Message, Request
from bitswarm.storage.errors import StorageError

_log = logging.getLogger(__name__)

TICK = 1.0
"""Seconds between housekeeping rounds: dialling, resume data, early announces."""
RESUME_EVERY = 5.0
SEND_AHEAD = 256 * 1024
"""Bytes read from disk for a peer and not yet written to it; further reads wait for its queue
to drain, so a rate-capped upload never holds seconds of stale blocks."""
MAX_DISK_QUEUE = 32 * 1024 * 1024
"""Bytes waiting for the disk before every connection stops reading; as many again may wait
in memory for the rest of their pieces."""
MAX_CONNECTIONS = 200
"""Connections of a runner that is not given its session's count."""


class Disk(PieceDisk, Protocol):
    """Block storage run off the event loop (aio/disk.py)."""

    async def read_block(self, piece: int, offset: int, length: int) -> bytes: ...


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    peer_id: bytes
    port: int
    """Our listening port, announced to the tracker."""
    max_peers: int = 50
    max_outgoing: int = 20
    max_disk_queue: int = MAX_DISK_QUEUE


class TorrentRunner:
    """Drives one torrent; it is also the :class:`PeerHost` its connections report to."""

    def __init__(
        self,
        torrent: Torrent,
        swarm: TorrentSwarm,
        disk: Disk,
        have: Bitfield,
        config: RunnerConfig,
        limiters: Limiters,
        *,
        announcer: Callable[[TorrentRunner], Announcer | None] = lambda runner: None,
        save_resume: Callable[[Bitfield], None] | None = None,
        session_room: Callable[[], int] = lambda: MAX_CONNECTIONS,
    ) -> None:
        self.torrent = torrent
        self.swarm = swarm
        self.disk = disk
        self.have = have
        self.config = config
        self._limiters = limiters
        self._save_resume = save_resume
        self._session_room = session_room
        """Connections the session may still open, over all its torrents."""
        self._loop = asyncio.get_running_loop()
        self.connections: dict[PeerKey, PeerConnection] = {}
        self.dialer = PeerDialer(config.peer_id, self, self._spawn)
        self._peer_ids: dict[bytes, PeerKey] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer = PieceWriter(
            disk,
            swarm.geometry.piece_size,
            max_buffered=config.max_disk_queue,
            max_queued=config.max_disk_queue,
            hold=self._hold_reading,
            failed=self._write_failed,
        )
        self._reader = PieceReader(disk.read_block, swarm.geometry.piece_size)
        self._reads_waiting: dict[PeerKey, deque[Request]] = {}
        self._reading: dict[PeerKey, int] = {}
        """Bytes being read from disk for each peer, or found in memory and not yet sent."""
        self._cached_reads: list[tuple[PeerKey, Request, bytes]] = []
        """Blocks found in the read cache, answered after the actions at hand."""
        self._reading_held = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_soon = False
        self._housekeeper: asyncio.Task[None] | None = None
        self._resume_dirty = False
        self._stopping = False
        self._resume_saved_at = self._loop.time()
        self.finished = asyncio.Event()
        """Set when every wanted piece is verified (at once for a seed): the download is done."""
        self.error: str | None = None
        self.ended = asyncio.Event()
        """Set when the torrent stopped itself (``error`` says why)."""
        self.announcer = announcer(self)
        if swarm.is_finished():
            self.finished.set()

    # -- PeerHost ------------------------------------------------------------------------

    @property
    def info_hash(self) -> bytes:
        return self.torrent.info_hash

    @property
    def piece_count(self) -> int:
        return self.torrent.piece_count

    @property
    def limiters(self) -> Limiters:
        return self._limiters

    def peer_opened(self, connection: PeerConnection, handshake: Handshake) -> bool:
        key = connection.address
        if (
            self._stopping
            or self.ended.is_set()
            or key[0] in self.dialer.banned
            or key in self.connections
            or handshake.peer_id in self._peer_ids  # already connected the other way
            or len(self.connections) >= self.config.max_peers
            or self._session_room() <= 0
        ):
            return False
        self.connections[key] = connection
        self._peer_ids[handshake.peer_id] = key
        connection.hold_reading(self._reading_held)
        self.swarm.peer_connected(key, handshake, self._loop.time(), address=key[0])
        self._drain()
        return True

    def peer_messages(self, connection: PeerConnection, messages: list[Message]) -> None:
        self.swarm.messages_received(connection.address, messages, self._loop.time())
        self._drain()

    def peer_drained(self, connection: PeerConnection) -> None:
        self._read_ahead(connection.address)
        if self._cached_reads:
            self._drain()

    def peer_closed(self, connection: PeerConnection, reason: str) -> None:
        if self.connections.get(connection.address) is connection:
            del self.connections[connection.address]
            if connection.remote is not None:
                self._peer_ids.pop(connection.remote.peer_id, None)
            self._reads_waiting.pop(connection.address, None)
            self.swarm.peer_disconnected(connection.address, self._loop.time())
            self._drain()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._housekeeper = self._spawn(self._housekeeping())
        if self.announcer is not None:
            self.announcer.start()
        self._drain()

    async def stop(self) -> None:
        """Close every peer, finish disk work, save resume data, announce ``stopped``."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        connections = list(self.connections.values())
        for connection in connections:
            connection.close("the torrent is stopping")
        await asyncio.gather(*(c.closed for c in connections), *self._tasks, return_exceptions=True)
        await self._writer.spill_all()
        await self._save(force=True)
        if self.announcer is not None:
            await self.announcer.stop()

    def add_peers(self, addresses: Sequence[Address]) -> None:
        """Addresses to dial (from a tracker, or given by the user)."""
        self.dialer.add(addresses)
        self._dial_more()

    def totals(self) -> Totals:
        totals = self.swarm.totals()
        return Totals(totals.uploaded, totals.downloaded, totals.left)

    def status(self) -> TorrentStatus:
        totals = self.swarm.totals()
        peers = self.swarm.peer_stats(self._loop.time())
        return TorrentStatus(
            name=self.torrent.name,
            size=totals.wanted,
            verified=totals.wanted - totals.wanted_left,
            uploaded=totals.uploaded,
            downloaded=totals.downloaded,
            up_rate=sum(peer.upload_rate for peer in peers),
            down_rate=sum(peer.download_rate for peer in peers),
            peers=len(peers),
            complete=self.finished.is_set(),
            error=self.error,
            tracker_warnings=tuple(self.announcer.warnings) if self.announcer else (),
        )

    # -- the swarm's actions ---------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            for action in self.swarm.actions():
                self._execute(action)
            if not self._cached_reads:
                break
            self._answer_cached_reads()
        if not self._timer_soon:  # once a turn of the loop, not once a message
            self._timer_soon = True
            self._loop.call_soon(self._schedule_timer)

    def _execute(self, action: Action) -> None:
        # the actions of every block first, spared the match below
        if type(action) is Send:
            connection = self.connections.get(action.peer)
            if connection is not None:
                connection.send(action.message)
            return
        if type(action) is WriteBlock:
            self._writer.add(action.piece, action.offset, action.data)
            return
        if type(action) is ReadBlock:
            self._reads_waiting.setdefault(action.peer, deque()).append(action.request)
            self._read_ahead(action.peer)
            return
        match action:
            case Disconnect(peer, reason) | Ban(peer, reason):
                connection = self.connections.get(peer)
                if connection is not None:
                    if isinstance(action, Ban):
                        self.dialer.banned.add(connection.address[0])
                    connection.close(reason)
            case VerifyPiece(piece):
                self._spawn(self._verify(piece))
            case PieceDone(piece):
                self.have.set(piece)
                self._resume_dirty = True
            case Finished():
                self.finished.set()
                self._spawn(self._save())
                if self.announcer is not None and self.have.all():  # not with files skipped
                    self.announcer.completed()
            case Stopped(reason):
                self._end(reason)

    def _end(self, reason: str) -> None:
        """Stop the torrent for good; the first reason is the one reported."""
        if self.ended.is_set():
            return
        self.error = reason
        self.ended.set()
        for connection in list(self.connections.values()):
            connection.close(reason)

    def _schedule_timer(self) -> None:
        self._timer_soon = False
        if self._stopping:
            return
        deadline = self.swarm.get_timer()
        timer = self._timer
        if timer is not None and not timer.cancelled() and timer.when() == deadline:
            return  # unchanged: most events leave the deadline where it was
        if timer is not None:
            timer.cancel()
        self._timer = None if deadline is None else self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.swarm.handle_timer(self._loop.time())
        self._drain()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- disk ------------------------------------------------------------------------------

    def _write_failed(self, piece: int, error: str) -> None:
        self.swarm.write_failed(piece, error, self._loop.time())
        self._drain()

    def _hold_reading(self, held: bool) -> None:
        if held != self._reading_held:
            self._reading_held = held
            for connection in self.connections.values():
                connection.hold_reading(held)

    def _read_ahead(self, peer: PeerKey) -> None:
        """Start the reads waiting for ``peer`` while little is on its way to it; blocks
        already in memory are answered once the current actions are carried out."""
        waiting, connection = self._reads_waiting.get(peer), self.connections.get(peer)
        while waiting and connection is not None:
            if connection.queued_bytes + self._reading.get(peer, 0) >= SEND_AHEAD:
                return
            request = waiting.popleft()
            self._reading[peer] = self._reading.get(peer, 0) + request.length
            data = self._reader.cached(request.index, request.begin, request.length)
            if data is None:
                self._spawn(self._read(peer, request))
            else:
                self._cached_reads.append((peer, request, data))

    def _answer_cached_reads(self) -> None:
        reads, self._cached_reads = self._cached_reads, []
        now = self._loop.time()
        for peer, request, data in reads:
            self._read_done(peer, request)
            if peer in self.connections:
                self.swarm.block_read(peer, request, data, now)

    def _read_done(self, peer: PeerKey, request: Request) -> None:
        self._reading[peer] -= request.length
        if not self._reading[peer]:
            del self._reading[peer]

    async def _read(self, peer: PeerKey, request: Request) -> None:
        try:
            data = await self._reader.read(request.index, request.begin, request.length)
        except StorageError as error:
            self._end(f"cannot read from disk: {error}")
            return
        finally:
            self._read_done(peer, request)
        if peer in self.connections:
            self.swarm.block_read(peer, request, data, self._loop.time())
            self._drain()

    async def _verify(self, piece: int) -> None:
        try:
            ok = await self._writer.verify(piece)
        except StorageError as error:
            self._end(f"cannot read from disk: {error}")
            return
        self.swarm.piece_verified(piece, ok, self._loop.time())
        self._drain()

    async def _save(self, *, force: bool = False) -> None:
        if self._save_resume is None or not (self._resume_dirty or force):
            return
        self._resume_dirty = False
        self._resume_saved_at = self._loop.time()
        try:
            await asyncio.to_thread(self._save_resume, self.have.copy())
        except StorageError as error:  # only a restart's shortcut is lost: say so, go on
            _log.warning("%s: resume data not saved: %s", self.torrent.name, error)

    # -- peers and housekeeping ------------------------------------------------------------

    def _dial_more(self) -> None:
        if self._stopping or self.ended.is_set():
            return
        outgoing = sum(1 for c in self.connections.values() if c.outgoing)
        room = min(
            self.config.max_outgoing - outgoing,
            self.config.max_peers - len(self.connections),
            self._session_room(),
        )
        dialer = self.dialer
        dialer.dial(room - len(dialer.dialling), self.connections, self._loop.time())

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self._dial_more()
            if self._loop.time() - self._resume_saved_at >= RESUME_EVERY:
                await self._save()
            if self.announcer is not None and not self.connections and not self.dialer.dialling:
                self.announcer.want_peers()
