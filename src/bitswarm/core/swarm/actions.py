"""What the torrent state machine asks its driver to do (BEP 3 peer protocol, BEP 6 fast).

:class:`~bitswarm.core.swarm.torrent.TorrentSwarm` decides and never acts: it
returns these commands from :meth:`~bitswarm.core.swarm.torrent.TorrentSwarm.actions`
and the driver (aio/ with sockets, disk threads and a clock, or the simulator
with virtual ones) carries them out in order and reports back through the
swarm's event methods. Storage work is commands too (DESIGN.md principle 3),
so the core never touches a file:

* :class:`WriteBlock` carries verified-length data to disk; the driver must
  finish every write of a piece before it runs that piece's
  :class:`VerifyPiece`, whose answer comes back as ``piece_verified``.
* :class:`ReadBlock` asks for a block a peer requested; the answer comes back
  as ``block_read`` and leaves as a ``piece`` message.

:class:`Ban` is a :class:`Disconnect` that also tells the driver never to take
the peer back (it sent data that failed the hash). After a :class:`Disconnect`
or a :class:`Ban` the swarm has already forgotten the peer: the driver's
``peer_disconnected`` that follows is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitswarm.core.swarm.pieces import PeerKey
from bitswarm.core.wire.messages import Message, Request


@dataclass(frozen=True, slots=True)
class Send:
    """Encode ``message`` and write it to ``peer`` (or hand it to a simulated link)."""

    peer: PeerKey
    message: Message


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection to ``peer``; ``reason`` says why, for the log."""

    peer: PeerKey
    reason: str


@dataclass(frozen=True, slots=True)
class Ban:
    """Close the connection to ``peer`` and refuse it from now on (bad data)."""

    peer: PeerKey
    reason: str


@dataclass(frozen=True, slots=True)
class WriteBlock:
    """Write ``data`` at byte ``offset`` of ``piece``."""

    piece: int
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """Read the block ``request`` names and answer with ``block_read(peer, request, data)``."""

    peer: PeerKey
    request: Request


@dataclass(frozen=True, slots=True)
class VerifyPiece:
    """Hash ``piece`` as written and answer with ``piece_verified(piece, ok)``."""

    piece: int


@dataclass(frozen=True, slots=True)
class PieceDone:
    """``piece`` passed its hash: save it in the resume data."""

    piece: int


@dataclass(frozen=True, slots=True)
class Finished:
    """Every wanted piece is verified (libtorrent's *finished*): the download is done.

    With every piece wanted (the default) the torrent is complete: announce
    ``completed`` and seed. With files skipped it is not, and the tracker hears
    no ``completed`` (BEP 3 means the whole torrent). Wanting more pieces later
    makes the torrent unfinished again, and a later :class:`Finished` follows.
    """


@dataclass(frozen=True, slots=True)
class Stopped:
    """The torrent stopped itself (a disk write failed): report ``reason`` to the user.

    The swarm is inert afterwards: the driver closes its connections and
    keeps the resume data, which holds only verified pieces.
    """

    reason: str


Action = (
    Send | Disconnect | Ban | WriteBlock | ReadBlock | VerifyPiece | PieceDone | Finished | Stopped
)
"""Everything :meth:`~bitswarm.core.swarm.torrent.TorrentSwarm.actions` returns."""
