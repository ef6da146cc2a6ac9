"""Hostile peers against a bitswarm seed and a bitswarm leecher, over loopback (bad input).

A scripted :class:`~hostile_peer.RawPeer` sends a wrong info-hash, a length
prefix no message may have, blocks nobody asked for or at the wrong place,
corrupt data, requests beyond the torrent or floods of them, half a message
before hanging up, or nothing at all. Each time the bitswarm peer drops it (or
bans it, for corrupt data) without stopping, and an honest transfer alongside
completes byte-exact.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_peer import RawPeer, listening
from peer_fixtures import make_torrent, peer, same_tree, wait_for

from bitswarm.aio.session import Session
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.core.metainfo import Torrent
from bitswarm.core.swarm.upload import UploadConfig
from bitswarm.core.wire.messages import (
    HaveAll,
    HaveNone,
    Interested,
    Piece,
    Request,
    Unchoke,
)

HOSTILE = "127.0.0.2"
BLOCK = 16 * 1024
HUGE_PREFIX = struct.pack(">IB", 0x7FFF_FFFF, 7)
"""A ``piece`` message announcing 2 GiB: no parser may wait for (or allocate) that."""


@dataclass
class Swarm:
    torrent: Torrent
    root: Path
    seed: Session
    seeding: TorrentRunner


@pytest.fixture
async def swarm(tmp_path: Path) -> AsyncIterator[Swarm]:
    torrent, seed_root = make_torrent(tmp_path)
    async with peer(torrent, seed_root) as (seed, seeding):
        yield Swarm(torrent, tmp_path, seed, seeding)


async def honest_download(swarm: Swarm, name: str) -> None:
    """A bitswarm leecher gets the whole torrent from the seed; the seed is still running."""
    async with peer(swarm.torrent, swarm.root / name) as (_, leeching):
        leeching.add_peers([("127.0.0.1", swarm.seed.port)])
        await wait_for(leeching.finished)
    assert not swarm.seeding.ended.is_set()
    assert same_tree(swarm.root / "seed" / "content", swarm.root / name / "content")


async def opened(swarm: Swarm) -> RawPeer:
    """A hostile peer connected to the seed with a good handshake, past the seed's summary."""
    raw = await RawPeer.dial(swarm.seed.port, swarm.torrent.piece_count, local=HOSTILE)
    await raw.send_handshake(swarm.torrent.info_hash)
    assert (await raw.read_handshake()).info_hash == swarm.torrent.info_hash
    assert isinstance(await raw.next_message(), HaveAll)
    return raw


# -- against a seed ---------------------------------------------------------------------


async def test_seed_refuses_a_wrong_info_hash_before_saying_a_word(swarm: Swarm) -> None:
    raw = await RawPeer.dial(swarm.seed.port, swarm.torrent.piece_count, local=HOSTILE)
    await raw.send_handshake(b"\x55" * 20)
    async with asyncio.timeout(10):
        assert await raw.reader.read() == b""
    await honest_download(swarm, "leech")


async def test_seed_drops_a_peer_announcing_a_huge_message(swarm: Swarm) -> None:
    raw = await opened(swarm)
    await raw.send_raw(HUGE_PREFIX)
    assert await raw.closed_by_peer()
    await honest_download(swarm, "leech")


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(lambda count: Request(count, 0, BLOCK), id="piece-beyond-the-torrent"),
        pytest.param(lambda count: Request(count - 1, 0, 1 << 20), id="block-too-long"),
        pytest.param(lambda count: Request(0, 1 << 30, BLOCK), id="offset-beyond-the-piece"),
    ],
)
async def test_seed_drops_a_peer_requesting_outside_the_torrent(
    swarm: Swarm, request_: Callable[[int], Request]
) -> None:
    raw = await opened(swarm)
    await raw.send(Interested(), request_(swarm.torrent.piece_count))
    assert await raw.closed_by_peer()
    await honest_download(swarm, "leech")


async def test_seed_survives_a_flood_of_requests(
    swarm: Swarm, caplog: pytest.LogCaptureFixture
) -> None:
    raw = await opened(swarm)
    await raw.send(Interested())
    assert isinstance(await raw.next_message(), Unchoke)
    # Every request is valid and distinct (one byte each, inside the first pieces), and
    # there are more of them than a peer may have queued: only the queue bound can object.
    limit = UploadConfig().max_requests_in
    flood = [Request(i // 1000, i % 1000, 1) for i in range(3 * limit)]
    assert flood[-1].index < swarm.torrent.piece_count
    caplog.set_level(logging.DEBUG, logger="bitswarm.aio.peer_connection")
    await raw.send(*flood)
    assert await raw.closed_by_peer()
    assert f"{HOSTILE}:" in caplog.text
    assert f"more than {limit} requests queued" in caplog.text
    await honest_download(swarm, "leech")


async def test_seed_forgets_a_peer_that_hangs_up_mid_message(swarm: Swarm) -> None:
    raw = await opened(swarm)
    await raw.send_raw(Request(0, 0, BLOCK).encode()[:7])
    await raw.close()
    await honest_download(swarm, "leech")


async def test_seed_serves_others_while_a_peer_says_nothing(swarm: Swarm) -> None:
    silent = await RawPeer.dial(swarm.seed.port, swarm.torrent.piece_count, local=HOSTILE)
    await honest_download(swarm, "leech")
    assert not silent.reader.at_eof()
    await silent.close()


# -- against a leecher -----------------------------------------------------------------


@dataclass
class Hostile:
    """A hostile peer's listener: its port, and the connections the leecher made to it."""

    port: int
    accepted: asyncio.Queue[RawPeer]


async def dialled_by(leeching: TorrentRunner, hostile: Hostile) -> RawPeer:
    leeching.add_peers([(HOSTILE, hostile.port)])
    async with asyncio.timeout(10):
        return await hostile.accepted.get()


async def hostile_seed(swarm: Swarm, leeching: TorrentRunner, hostile: Hostile) -> RawPeer:
    """The leecher dials the hostile peer, which answers the handshake."""
    raw = await dialled_by(leeching, hostile)
    assert (await raw.read_handshake()).info_hash == swarm.torrent.info_hash
    await raw.send_handshake(swarm.torrent.info_hash)
    return raw


async def next_request(raw: RawPeer) -> Request:
    while not isinstance(message := await raw.next_message(), Request):
        pass
    return message


async def finish_from_the_honest_seed(swarm: Swarm, leeching: TorrentRunner) -> None:
    leeching.add_peers([("127.0.0.1", swarm.seed.port)])
    await wait_for(leeching.finished)
    assert not leeching.ended.is_set()
    assert same_tree(swarm.root / "seed" / "content", swarm.root / "leech" / "content")


@pytest.fixture
async def leeching(swarm: Swarm) -> AsyncIterator[TorrentRunner]:
    async with peer(swarm.torrent, swarm.root / "leech") as (_, runner):
        yield runner


@pytest.fixture
async def hostile(swarm: Swarm) -> AsyncIterator[Hostile]:
    async with listening(HOSTILE, swarm.torrent.piece_count) as (port, accepted):
        yield Hostile(port, accepted)


async def test_leecher_drops_a_seed_answering_for_another_torrent(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await dialled_by(leeching, hostile)
    await raw.read_handshake()
    await raw.send_handshake(b"\x55" * 20)
    assert await raw.closed_by_peer()
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_drops_a_seed_announcing_a_huge_message(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveAll(), Unchoke())
    await raw.send_raw(HUGE_PREFIX)
    assert await raw.closed_by_peer()
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_drops_a_peer_sending_unrequested_blocks(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveNone())  # it has nothing, so nothing is ever asked of it
    count = swarm.torrent.piece_count
    await raw.send(*(Piece(i % count, 0, bytes(BLOCK)) for i in range(50)))
    assert await raw.closed_by_peer()
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_drops_a_seed_answering_with_misaligned_blocks(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveAll(), Unchoke())
    asked = await next_request(raw)
    # One byte off what was asked, again and again: each is an offence, not a block.
    shifted = Piece(asked.index, asked.begin + 1, bytes(asked.length))
    await raw.send(*[shifted] * 50)
    assert await raw.closed_by_peer()
    assert leeching.status().verified == 0
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_bans_a_seed_sending_corrupt_data(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveAll(), Unchoke())
    try:
        while True:
            asked = await next_request(raw)
            await raw.send(Piece(asked.index, asked.begin, b"\xee" * asked.length))
    except ConnectionError:
        pass
    assert await raw.closed_by_peer()
    assert leeching.status().verified == 0
    # Banned: from that address, a new connection is refused after its handshake.
    again = await RawPeer.dial(leeching.config.port, swarm.torrent.piece_count, local=HOSTILE)
    await again.send_handshake(swarm.torrent.info_hash)
    assert await again.closed_by_peer()
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_completes_when_a_seed_hangs_up_mid_block(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveAll(), Unchoke())
    asked = await next_request(raw)
    await raw.send_raw(Piece(asked.index, asked.begin, bytes(asked.length)).encode()[:1000])
    await raw.close()
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_completes_past_a_seed_that_never_sends_a_block(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    raw = await hostile_seed(swarm, leeching, hostile)
    await raw.send(HaveAll(), Unchoke())
    await next_request(raw)  # asked, never answered
    await finish_from_the_honest_seed(swarm, leeching)


async def test_leecher_completes_past_a_peer_that_never_answers_its_handshake(
    swarm: Swarm, leeching: TorrentRunner, hostile: Hostile
) -> None:
    await dialled_by(leeching, hostile)  # and never answered
    await finish_from_the_honest_seed(swarm, leeching)
