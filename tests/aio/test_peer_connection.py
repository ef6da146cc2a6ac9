"""Peer connections over loopback: handshake both ways, routing, refusals, flow control."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from bitswarm.aio.listener import Listener, ListenError, listen
from bitswarm.aio.peer_connection import PeerConnection, connect
from bitswarm.aio.ratelimit import Limiters, RateLimits
from bitswarm.core.wire import connection as wire
from bitswarm.core.wire.handshake import HANDSHAKE_SIZE, Handshake
from bitswarm.core.wire.messages import HaveAll, Interested, Message, Piece, Request

INFO_HASH = bytes(range(20))
PIECES = 64


@dataclass(eq=False)
class Host:
    """A torrent that records what its connections report."""

    info_hash: bytes = INFO_HASH
    piece_count: int = PIECES
    limiters: Limiters = field(default_factory=lambda: Limiters.chain(RateLimits.of()))
    accept: bool = True
    opened: list[Handshake] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    received: int = 0
    drained: int = 0
    first_block_at: float = 0.0
    last_block_at: float = 0.0

    def peer_opened(self, connection: PeerConnection, handshake: Handshake) -> bool:
        self.opened.append(handshake)
        return self.accept

    def peer_messages(self, connection: PeerConnection, messages: list[Message]) -> None:
        for message in messages:
            self.messages.append(message)
            if isinstance(message, Piece):
                self.first_block_at = self.first_block_at or time.monotonic()
                self.last_block_at = time.monotonic()
                self.received += len(message.block)

    def peer_closed(self, connection: PeerConnection, reason: str) -> None:
        self.closed.append(reason)

    def peer_drained(self, connection: PeerConnection) -> None:
        self.drained += 1


@dataclass
class Routes:
    hosts: dict[bytes, Host]

    def route(self, info_hash: bytes) -> Host | None:
        return self.hosts.get(info_hash)


async def _until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def _serve(host: str, server_host: Host) -> Listener:
    return await listen(host, 0, b"S" * 20, Routes({INFO_HASH: server_host}))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
async def test_handshake_both_ways_then_messages_flow(address: str) -> None:
    server_host, client_host = Host(), Host()
    listener = await _serve(address, server_host)
    try:
        client = await connect((address, listener.port), b"C" * 20, client_host)
        await _until(lambda: client_host.opened and server_host.opened)
        assert client_host.opened[0].peer_id == b"S" * 20
        assert server_host.opened[0].peer_id == b"C" * 20
        client.send(HaveAll())
        client.send(Interested())
        client.send(Request(3, 0, 16384))
        await _until(lambda: len(server_host.messages) == 3)
        assert server_host.messages == [HaveAll(), Interested(), Request(3, 0, 16384)]
        client.close("done")
        assert await client.closed == "done"
        await _until(lambda: server_host.closed)
    finally:
        await listener.close()


async def _raw_exchange(port: int, handshake: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(handshake)
    try:
        async with asyncio.timeout(5):
            return await reader.read()
    finally:
        writer.close()


async def test_unknown_info_hash_is_refused_before_we_answer() -> None:
    listener = await _serve("127.0.0.1", Host())
    try:
        stranger = Handshake(b"\xff" * 20, b"X" * 20).encode()
        assert await _raw_exchange(listener.port, stranger) == b""
    finally:
        await listener.close()


async def test_our_own_peer_id_is_refused() -> None:
    server_host = Host()
    listener = await _serve("127.0.0.1", server_host)
    try:
        ourselves = Handshake(INFO_HASH, b"S" * 20).encode()
        answer = await _raw_exchange(listener.port, ourselves)
        assert len(answer) == HANDSHAKE_SIZE  # it answered, read ours, then hung up
        assert server_host.opened == []
    finally:
        await listener.close()


async def test_a_peer_that_never_completes_its_handshake_is_dropped_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads our handshake, never answers
        writer.close()

    monkeypatch.setattr(wire, "HANDSHAKE_TIMEOUT", 0.2)
    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        host = Host()
        port = server.sockets[0].getsockname()[1]
        client = await connect(("127.0.0.1", port), b"C" * 20, host)
        assert await asyncio.wait_for(client.closed, 5) == "no handshake within 0.2 s"
        assert host.opened == [] and host.closed == []
    finally:
        server.close()
        await server.wait_closed()


async def test_a_torrent_that_refuses_the_peer_closes_it() -> None:
    server_host = Host(accept=False)
    listener = await _serve("127.0.0.1", server_host)
    try:
        client_host = Host()
        client = await connect(("127.0.0.1", listener.port), b"C" * 20, client_host)
        assert "refused" not in await client.closed  # the client only sees the hang-up
        assert server_host.closed == []  # never opened, so never reported closed
    finally:
        await listener.close()


async def test_a_malformed_message_closes_with_a_precise_reason() -> None:
    server_host = Host()
    listener = await _serve("127.0.0.1", server_host)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(Handshake(INFO_HASH, b"X" * 20).encode())
        writer.write(b"\x00\x00\x00\x03\x04\x00\x07")  # a have with a 2-byte payload
        async with asyncio.timeout(5):
            await reader.read()
        writer.close()
        await _until(lambda: server_host.closed)
        assert "have" in server_host.closed[0].lower()
        assert "stream byte 0" in server_host.closed[0]
    finally:
        await listener.close()


async def test_port_in_use_is_one_clear_error() -> None:
    listener = await _serve("127.0.0.1", Host())
    try:
        with pytest.raises(ListenError, match=f"port {listener.port} is already in use"):
            await listen("127.0.0.1", listener.port, b"T" * 20, Routes({}))
    finally:
        await listener.close()


@asynccontextmanager
async def _sending(up: float) -> AsyncIterator[tuple[PeerConnection, Host, Host]]:
    """A client capped at ``up`` bytes/s (0: no cap) connected to a served host: the
    connection, its host and the server's."""
    server_host = Host()
    listener = await _serve("127.0.0.1", server_host)
    try:
        sender = Host(limiters=Limiters.chain(RateLimits.of(up=up)))
        client = await connect(("127.0.0.1", listener.port), b"C" * 20, sender)
        await _until(lambda: server_host.opened)
        yield client, sender, server_host
        client.close("done")
    finally:
        await listener.close()


async def test_upload_cap_is_not_exceeded() -> None:
    rate = 400_000
    async with _sending(rate) as (client, capped, server_host):
        block = bytes(16384)
        started = time.monotonic()
        for index in range(60):  # ~1 MB: about 2.5 s at the cap
            client.send(Piece(index % PIECES, 0, block))
        assert client.queued_bytes > 50 * len(block)  # held back by the cap, not by the socket
        drained_before = capped.drained
        await _until(lambda: server_host.received == 60 * len(block), timeout=20)
        elapsed = time.monotonic() - started
        burst = capped.limiters.up.buckets[0].burst
        # Everything sent within `elapsed` seconds fits the cap, plus one burst and one frame.
        assert client.bytes_sent <= rate * elapsed + burst + len(block) + 13 + HANDSHAKE_SIZE
        assert client.queued_bytes == 0 and capped.drained > drained_before  # told when empty


async def test_download_cap_is_not_exceeded() -> None:
    rate = 400_000
    server_host = Host(limiters=Limiters.chain(RateLimits.of(down=rate)))
    listener = await _serve("127.0.0.1", server_host)
    try:
        client = await connect(("127.0.0.1", listener.port), b"C" * 20, Host())
        await _until(lambda: server_host.opened)
        block = bytes(16384)
        for index in range(60):
            client.send(Piece(index % PIECES, 0, block))
        await _until(lambda: server_host.received == 60 * len(block), timeout=20)
        span = server_host.last_block_at - server_host.first_block_at
        burst = server_host.limiters.down.buckets[0].burst
        # The reader pauses while in debt; what it took in after the first read is capped.
        # Socket buffers let one extra read of at most 256 KiB slip past a pause.
        assert server_host.received <= rate * span + burst + 256 * 1024 + 2 * len(block)
        client.close("done")
    finally:
        await listener.close()


class FaultyHost(Host):
    def peer_messages(self, connection: PeerConnection, messages: list[Message]) -> None:
        raise RuntimeError("a bug in the torrent")


async def test_a_bug_in_the_torrent_drops_the_peer_not_the_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_host = FaultyHost()
    listener = await _serve("127.0.0.1", server_host)
    try:
        client = await connect(("127.0.0.1", listener.port), b"C" * 20, Host())
        await _until(lambda: server_host.opened)
        client.send(Interested())
        assert await client.closed
        await _until(lambda: server_host.closed)
        assert server_host.closed == ["internal error (logged)"]
        assert "a bug in the torrent" in caplog.text
    finally:
        await listener.close()


@pytest.mark.parametrize("cap", [0, 10_000_000])
async def test_a_burst_of_blocks_is_written_sixteen_at_a_time_unless_capped(
    cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    original = PeerConnection._write

    def recorded(self: PeerConnection, transport: object, frames: list[bytes], size: int) -> None:
        writes.append(size)
        original(self, transport, frames, size)  # type: ignore[arg-type]

    monkeypatch.setattr(PeerConnection, "_write", recorded)
    async with _sending(cap) as (client, _, server_host):
        writes.clear()
        for index in range(64):
            client.send(Piece(index % PIECES, 0, bytes(16384)))
        await _until(lambda: server_host.received == 64 * 16384)
        frame = 13 + 16384
        assert writes == ([16 * frame] * 4 if not cap else [2 * frame] * 32)
