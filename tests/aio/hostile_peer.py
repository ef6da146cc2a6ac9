"""A scripted peer on a raw TCP socket, for tests that misbehave on purpose (BEP 3 wire).

:class:`RawPeer` writes exactly the bytes a test tells it to (a handshake,
a message, half a message, a length prefix no peer should send) and reads
what bitswarm answers with the core
:class:`~bitswarm.core.wire.parser.MessageParser`. It dials a bitswarm
listener, or :func:`listening` accepts the connection a bitswarm leecher
dials. Hostile peers bind their own loopback address (127.0.0.2 and up):
bitswarm bans by IP, and an honest peer on 127.0.0.1 must not share a ban.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bitswarm.core.wire.handshake import HANDSHAKE_SIZE, Extensions, Handshake, parse_handshake
from bitswarm.core.wire.messages import Message
from bitswarm.core.wire.parser import MessageParser

HOSTILE_ID = b"-XX0000-hostilepeer0"
READ_SIZE = 64 * 1024


class RawPeer:
    """One TCP connection driven byte by byte by a test."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, piece_count: int
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = MessageParser(piece_count)

    @classmethod
    async def dial(cls, port: int, piece_count: int, *, local: str) -> RawPeer:
        """Connect from ``local`` (a loopback address) to a bitswarm peer on 127.0.0.1."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
        return cls(reader, writer, piece_count)

    async def send_handshake(self, info_hash: bytes, *, peer_id: bytes = HOSTILE_ID) -> None:
        await self.send_raw(Handshake(info_hash, peer_id, Extensions.FAST).encode())

    async def read_handshake(self, timeout: float = 10) -> Handshake:
        async with asyncio.timeout(timeout):
            return parse_handshake(await self.reader.readexactly(HANDSHAKE_SIZE))

    async def send(self, *messages: Message) -> None:
        await self.send_raw(b"".join(message.encode() for message in messages))

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def next_message(self, timeout: float = 10) -> Message:
        """The next message bitswarm sends (keep-alives included); fails on EOF or timeout."""
        async with asyncio.timeout(timeout):
            while (message := self.parser.next_message()) is None:
                data = await self.reader.read(READ_SIZE)
                if not data:
                    raise ConnectionError("bitswarm closed the connection")
                self.parser.receive_data(data)
            return message

    async def closed_by_peer(self, timeout: float = 10) -> bool:
        """Read and drop everything until bitswarm closes; False if still open at ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(READ_SIZE):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass  # a reset is a close too
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@asynccontextmanager
async def listening(
    local: str, piece_count: int
) -> AsyncIterator[tuple[int, asyncio.Queue[RawPeer]]]:
    """A listener on ``local``: yields its port and a queue of the connections it accepts."""
    accepted: asyncio.Queue[RawPeer] = asyncio.Queue()
    peers: list[RawPeer] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = RawPeer(reader, writer, piece_count)
        peers.append(peer)
        await accepted.put(peer)

    server = await asyncio.start_server(accept, local, 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), accepted
    finally:
        server.close()
        for peer in peers:
            await peer.close()
        await server.wait_closed()
