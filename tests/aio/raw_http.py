"""A raw HTTP/1.1 client for the tracker's HTTP front: exact bytes out, whole responses in."""

from __future__ import annotations

import asyncio
from urllib.parse import quote_from_bytes

from bitswarm.core.bencode import decode

HASH = b"\x07" * 20


def announce(peer: int, version: bytes = b"1.1", extra: bytes = b"") -> bytes:
    query = (
        f"info_hash={quote_from_bytes(HASH)}&peer_id={quote_from_bytes(bytes([peer]) * 20)}"
        f"&port={6000 + peer}&uploaded=0&downloaded=0&left=1"
    )
    return f"GET /announce?{query} HTTP/".encode() + version + b"\r\nHost: t\r\n" + extra + b"\r\n"


class Connection:
    """A raw client connection that reads whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def response(self) -> tuple[int, dict[bytes, bytes], bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 2)
        status_line, *lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), 2)
        return int(status_line.split()[1]), headers, body

    async def closed(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), 2) == b""


async def incomplete(connection: Connection) -> object:
    """The leecher count of the next response, a successful announce."""
    status, _, body = await connection.response()
    reply = decode(body)
    assert status == 200 and isinstance(reply, dict)
    return reply[b"incomplete"]


async def connect(address: tuple[str, int], source: str = "127.0.0.1") -> Connection:
    """A connection to ``address`` from the loopback address ``source``."""
    reader, writer = await asyncio.open_connection(*address, local_addr=(source, 0))
    return Connection(reader, writer)
