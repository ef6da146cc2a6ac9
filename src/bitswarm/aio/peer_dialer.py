"""Which peers a torrent dials, and when (BEP 3 peer lists, our own address, bans).

Trackers (and the user's ``--peer``) hand a torrent addresses; the
:class:`PeerDialer` remembers them and dials as many as the torrent's limits
leave room for. An address is dialled again only after
:data:`REDIAL_AFTER` seconds, so a peer that is down or full costs one
attempt per half minute, not a storm. Two addresses are never dialled again:
a banned peer's (it sent data that failed the hash) and our own listener's
(trackers list us among the peers; the handshake shows our own peer id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Container, Coroutine, Iterable
from typing import Any

from bitswarm.aio.peer_connection import Address, PeerHost, connect

REDIAL_AFTER = 30.0


class PeerDialer:
    def __init__(
        self,
        peer_id: bytes,
        host: PeerHost,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
    ) -> None:
        self._peer_id = peer_id
        self._host = host
        self._spawn = spawn
        self._candidates: dict[Address, float] = {}
        """Known addresses and when we last dialled them (0: never)."""
        self.dialling: set[Address] = set()
        self.banned: set[str] = set()
        """IP addresses never dialled nor accepted again."""
        self.ourselves: set[Address] = set()
        """Addresses that turned out to be our own listener."""

    def add(self, addresses: Iterable[Address]) -> None:
        for host, port in addresses:
            if (host, port) not in self.ourselves:
                self._candidates.setdefault((host, int(port)), 0.0)

    def known(self, address: Address) -> bool:
        return address in self._candidates

    def dial(self, room: int, connected: Container[object], now: float) -> None:
        """Start up to ``room`` connections to known addresses not ``connected`` already."""

        for address, tried in list(self._candidates.items()):
            if room <= 0:
                return
            if (
                address in connected
                or address in self.dialling
                or address[0] in self.banned
                or (tried and now - tried < REDIAL_AFTER)
            ):
                continue
            self._candidates[address] = now
            self.dialling.add(address)
            self._spawn(self._dial(address))
            room -= 1

    async def _dial(self, address: Address) -> None:
        try:
            connection = await connect(address, self._peer_id, self._host)
        except (OSError, TimeoutError):
            return  # unreachable for now: tried again after REDIAL_AFTER
        finally:
            self.dialling.discard(address)
        await connection.closed
        if connection.ourselves:
            self.ourselves.add(address)
            self._candidates.pop(address, None)
