"""bitswarm: a BitTorrent toolkit.

Torrents (v1, v2, hybrid) and magnet links, a tracker server and client, a full
peer, DHT, web seeds and a discrete-event swarm simulator. The protocol logic
lives in :mod:`bitswarm.core`, which does no I/O; :mod:`bitswarm.aio` runs it on
real sockets and files, :mod:`bitswarm.sim` on a virtual network.
"""

from bitswarm import native as _native

__version__ = "0.1.0"

NATIVE = _native.select()
"""Whether the swarm core and the simulator run compiled (see :mod:`bitswarm.native`)."""
