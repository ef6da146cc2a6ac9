"""The sans-I/O wire core and piece picker against libtorrent, over loopback.

A plain blocking socket drives :class:`~bitswarm.core.wire.connection.PeerConnection`
(the test is the "driver", and keeps the choke flag and requests itself): once
downloading every piece from a libtorrent seed with the picker choosing
blocks, and once seeding to a libtorrent downloader. Both with and without
the fast extension, so both the BEP 6 path (have all, rejects) and the BEP 3
path (bitfield) meet a real peer.
libtorrent runs without its default plugins (no PEX), DHT, LSD, UPnP and
NAT-PMP, listening on 127.0.0.1 only, with encryption (MSE/PE) off.
"""

from __future__ import annotations

import hashlib
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libtorrent as lt
import pytest

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.picker import PiecePicker
from bitswarm.core.swarm.pieces import BlockRef, PieceGeometry
from bitswarm.core.wire.connection import Event, PeerConnection, State
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import (
    Choke,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    Piece,
    RejectRequest,
    Request,
    Unchoke,
)

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

PIECE_LENGTH = 32 * 1024  # two blocks a piece
SIZE = 9 * PIECE_LENGTH + 5088  # a short last piece, with a short last block
PEER_ID = b"-BS0001-wiretest0001"
PEER = "libtorrent"
PIPELINE = 16
DEADLINE = 60.0
MODES = {"fast": Extensions.FAST | Extensions.EXTENSION_PROTOCOL, "plain": Extensions.NONE}


class Swarm:
    """A libtorrent session on 127.0.0.1 and one v1 torrent of random bytes."""

    def __init__(self, root: Path, *, seeding: bool) -> None:
        self.data = random.Random(7).randbytes(SIZE)
        seed_dir, self.save_dir = root / "seed", root / ("lt-seed" if seeding else "lt-leech")
        seed_dir.mkdir()
        self.save_dir.mkdir(exist_ok=True)
        (seed_dir / "file.bin").write_bytes(self.data)
        if seeding:
            (self.save_dir / "file.bin").write_bytes(self.data)
        storage = lt.file_storage()
        storage.add_file("file.bin", SIZE)
        creator = lt.create_torrent(storage, PIECE_LENGTH, flags=lt.create_torrent.v1_only)
        lt.set_piece_hashes(creator, str(seed_dir))
        self.info = lt.torrent_info(lt.bdecode(lt.bencode(creator.generate())))
        self.info_hash: bytes = self.info.info_hashes().v1.to_bytes()
        settings = {
            "listen_interfaces": "127.0.0.1:0",
            "outgoing_interfaces": "127.0.0.1",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            # Plain BitTorrent both ways: outgoing connections would open with an
            # MSE/PE key exchange, which is not the layer under test here.
            "out_enc_policy": int(lt.enc_policy.pe_disabled),
            "in_enc_policy": int(lt.enc_policy.pe_disabled),
            # TCP only: an outgoing uTP attempt to our TCP-only socket costs seconds.
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
        }
        self.session = lt.session(settings, 0)  # 0: no default plugins, so no PEX
        params = lt.add_torrent_params()
        params.ti = self.info
        params.save_path = str(self.save_dir)
        self.handle = self.session.add_torrent(params)
        wait_until(lambda: self.handle.status().is_seeding == seeding, "libtorrent ready")

    @property
    def port(self) -> int:
        return int(self.session.listen_port())


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def exchange_bytes(sock: socket.socket, connection: PeerConnection) -> Iterator[Event]:
    """One turn of the driver: write what is pending, read what came, yield the events."""

    if pending := connection.data_to_send():
        sock.sendall(pending)
    try:
        data = sock.recv(1 << 16)
    except TimeoutError:
        data = None
    now = time.monotonic()
    if data == b"":
        pytest.fail(f"libtorrent closed the connection (state {connection.state.value})")
    if data:
        connection.receive_data(data)
    while (event := connection.next_event()) is not None:
        yield event
    if (timer := connection.get_timer()) is not None and now >= timer:
        connection.handle_timer(now)


@pytest.mark.parametrize("mode", MODES)
def test_download_every_piece_from_a_libtorrent_seed(tmp_path: Path, mode: str) -> None:
    swarm = Swarm(tmp_path, seeding=True)
    count = swarm.info.num_pieces()
    connection = connect(swarm, mode)
    picker = PiecePicker(PieceGeometry(PIECE_LENGTH, SIZE), random.Random(1))
    received = bytearray(SIZE)
    seen: list[type] = []
    choked, outstanding = True, set[Request]()
    with socket.create_connection(("127.0.0.1", swarm.port), timeout=10) as sock:
        sock.settimeout(0.05)
        deadline = time.monotonic() + DEADLINE
        while not picker.is_finished():
            assert time.monotonic() < deadline, f"stuck: {picker.have.to_string()}"
            for event in exchange_bytes(sock, connection):
                seen.append(type(event))
                if isinstance(event, Handshake):
                    picker.peers.join(PEER)
                    if fast(event, mode):
                        connection.send(HaveNone())
                    connection.send(Interested())
                elif isinstance(event, Choke | Unchoke):
                    choked = isinstance(event, Choke)
                    if choked and mode == "plain":  # BEP 3: a choke voids our requests
                        for r in outstanding:
                            picker.request_failed(PEER, BlockRef(r.index, r.begin, r.length))
                        outstanding.clear()
                elif isinstance(event, HaveAll):
                    picker.peers.have_all(PEER)
                elif isinstance(event, HaveBitfield):
                    for piece in Bitfield.from_wire(event.bits, count):
                        picker.peers.have(PEER, piece)
                elif isinstance(event, Piece):
                    block = BlockRef(event.index, event.begin, len(event.block))
                    outstanding.discard(event.request)
                    if picker.block_received(PEER, block).wanted:
                        start = event.index * PIECE_LENGTH + event.begin
                        received[start : start + len(event.block)] = event.block
                        if picker.block_finished(block):
                            verify(picker, swarm, received, event.index)
                elif isinstance(event, RejectRequest):
                    outstanding.discard(Request(event.index, event.begin, event.length))
                    picker.request_failed(PEER, BlockRef(event.index, event.begin, event.length))
            if connection.state is State.OPEN and not choked:
                for block in picker.pick(PEER, PIPELINE - len(outstanding)):
                    request = Request(block.piece, block.begin, block.length)
                    outstanding.add(request)
                    connection.send(request)
    assert bytes(received) == swarm.data
    assert connection.state is State.OPEN
    assert (HaveAll if mode == "fast" else HaveBitfield) in seen


def connect(swarm: Swarm, mode: str) -> PeerConnection:
    count = swarm.info.num_pieces()
    return PeerConnection(
        PEER_ID,
        time.monotonic(),
        info_hash=swarm.info_hash,
        piece_count=count,
        extensions=MODES[mode],
    )


def fast(handshake: Handshake, mode: str) -> bool:
    """BEP 6 is on: both handshakes set the fast bit."""

    return bool(MODES[mode] & handshake.reserved & Extensions.FAST)


def verify(picker: PiecePicker, swarm: Swarm, received: bytearray, piece: int) -> None:
    start = piece * PIECE_LENGTH
    digest = hashlib.sha1(received[start : start + picker.geometry.piece_size(piece)]).digest()
    assert digest == swarm.info.hash_for_piece(piece), f"piece {piece} failed its hash"
    picker.piece_passed(piece)


@pytest.mark.parametrize("mode", MODES)
def test_seed_every_piece_to_a_libtorrent_downloader(tmp_path: Path, mode: str) -> None:
    swarm = Swarm(tmp_path, seeding=False)
    count = swarm.info.num_pieces()
    with socket.create_server(("127.0.0.1", 0)) as server:
        swarm.handle.connect_peer(("127.0.0.1", server.getsockname()[1]))
        server.settimeout(DEADLINE)
        sock, _ = server.accept()
    connection = connect(swarm, mode)
    served = 0
    with sock:
        sock.settimeout(0.05)
        deadline = time.monotonic() + DEADLINE
        while not swarm.handle.status().is_seeding:
            assert time.monotonic() < deadline, "libtorrent did not finish"
            for event in exchange_bytes(sock, connection):
                if isinstance(event, Handshake):
                    summary = HaveAll() if fast(event, mode) else HaveBitfield(full(count))
                    connection.send(summary)
                elif isinstance(event, Interested):
                    connection.send(Unchoke())
                elif isinstance(event, Request):
                    start = event.index * PIECE_LENGTH + event.begin
                    connection.send(
                        Piece(event.index, event.begin, swarm.data[start : start + event.length])
                    )
                    served += event.length
    # Seeding means every piece passed libtorrent's hash check, which it runs on the blocks
    # in memory: the writes to the file, even the one that creates it, may land a moment later.
    copy = swarm.save_dir / "file.bin"
    data = swarm.data
    wait_until(lambda: copy.is_file() and copy.read_bytes() == data, "libtorrent's copy on disk")
    assert served >= SIZE


def full(count: int) -> bytes:
    return Bitfield.full(count).to_wire()
