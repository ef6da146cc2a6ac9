"""Peer storage speed: block writes through DiskIO, piece checks, and start-up with resume data.

A download writes 16 KiB blocks in whatever order peers send them and hashes
each piece once it is whole; a restart must then learn what is already there.
On 128 MiB in four files (v1, 256 KiB pieces, in ``$BITSWARM_BENCH_CACHE`` or
``/tmp/bitswarm-bench``), this measures, in MB/s (10^6 bytes) or ms:

* ``write``: every block written in a shuffled order through
  :class:`~bitswarm.aio.disk.DiskIO` (two threads, 16 MiB in flight, 64 writers
  at once), against the floor: the same blocks ``os.pwrite``-n in the same order
  into one preallocated file by one thread, with no layout, descriptor cache or
  event loop;
* ``hash``: every piece checked with ``DiskIO.hash_piece``, the way a download
  checks pieces as they complete;
* ``recheck``: the start-up check without resume data
  (``restore(force=True)``, hashing on one thread per core), against
  libtorrent 2's check of the same files when the torrent is added without
  resume data, timed to its ``torrent_checked_alert`` (PyPI wheel, one hashing
  thread per core as bitswarm uses, otherwise default settings; listening on
  127.0.0.1 only, DHT, LSD, UPnP, NAT-PMP and PEX off);
* ``resume``: the start-up with resume data of unchanged files (stat only).

The written files are read back through the page cache before each check, so
figures compare hashing and planning, not the disk. Each is the best of a few
runs; ratios are bitswarm against the reference of the same run.

Run: ``python bench/storage.py``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import libtorrent as lt

from bitswarm.aio.disk import DiskIO
from bitswarm.core.metainfo import Torrent
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.create import create_torrent
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.resume import restore, save_resume, snapshot

FILES = 4
FILE_SIZE = 32 * 1024 * 1024
SIZE = FILES * FILE_SIZE
PIECE = 256 * 1024
BLOCK = 16 * 1024
WRITERS = 64
REPEATS = 3
CACHE = Path(os.environ.get("BITSWARM_BENCH_CACHE", "/tmp/bitswarm-bench")) / "storage"


def seed() -> tuple[Torrent, Path]:
    """The content (made once) and its torrent."""
    folder = CACHE / "seed" / "content"
    for i in range(FILES):
        path = folder / f"part{i}.bin"
        if not path.exists() or path.stat().st_size != FILE_SIZE:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(random.Random(i).randbytes(FILE_SIZE))
    return create_torrent(folder, version="v1", piece_length=PIECE, creation_date=None), folder


def best(run: Callable[[], float]) -> float:
    return min(run() for _ in range(REPEATS))


def block_order(store: PieceStore) -> list[tuple[int, int, int]]:
    order = [
        (piece, begin, min(BLOCK, store.layout.piece_size(piece) - begin))
        for piece in range(store.layout.piece_count)
        for begin in range(0, store.layout.piece_size(piece), BLOCK)
    ]
    random.Random(1).shuffle(order)
    return order


async def write_all(disk: DiskIO, blocks: list[tuple[int, int, bytes]]) -> None:
    queue = iter(blocks)

    async def writer() -> None:
        for piece, begin, data in queue:
            await disk.write_block(piece, begin, data)

    await asyncio.gather(*(writer() for _ in range(WRITERS)))


def time_bitswarm_write(torrent: Torrent, blocks: list[tuple[int, int, bytes]]) -> float:
    target = CACHE / "dl"
    shutil.rmtree(target, ignore_errors=True)
    disk = DiskIO(PieceStore(torrent, target))
    start = time.perf_counter()
    asyncio.run(write_all(disk, blocks))
    elapsed = time.perf_counter() - start
    asyncio.run(disk.close())
    return elapsed


def time_raw_write(blocks: list[tuple[int, int, bytes]]) -> float:
    path = CACHE / "raw.bin"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, SIZE)
        start = time.perf_counter()
        for piece, begin, data in blocks:
            os.pwrite(fd, data, piece * PIECE + begin)
        return time.perf_counter() - start
    finally:
        os.close(fd)
        path.unlink()


def time_hash(torrent: Torrent) -> float:
    async def check() -> float:
        disk = DiskIO(PieceStore(torrent, CACHE / "dl"))
        start = time.perf_counter()
        results = await asyncio.gather(*(disk.hash_piece(p) for p in range(torrent.piece_count)))
        elapsed = time.perf_counter() - start
        await disk.close()
        assert all(results), "a written piece hashes wrong"
        return elapsed

    return asyncio.run(check())


def time_restore(torrent: Torrent, *, force: bool) -> float:
    start = time.perf_counter()
    have = restore(torrent, CACHE / "dl", CACHE / "state", force=force)
    elapsed = time.perf_counter() - start
    assert have.all(), "restore lost pieces"
    return elapsed


def time_libtorrent_check(torrent: Torrent) -> float:
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "hashing_threads": os.cpu_count() or 1,
        "alert_mask": lt.alert.category_t.status_notification,
    }
    session = lt.session(settings, flags=0)  # flags=0: no default plugins, so no ut_pex
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent.to_bytes())
    params.save_path = str(CACHE / "dl")
    start = time.perf_counter()
    handle = session.add_torrent(params)
    while not any(isinstance(a, lt.torrent_checked_alert) for a in session.pop_alerts()):
        if time.perf_counter() - start > 300:
            raise RuntimeError(f"libtorrent still checking: {handle.status().state}")
        session.wait_for_alert(1000)
    elapsed = time.perf_counter() - start
    assert handle.status().num_pieces == torrent.piece_count
    session.remove_torrent(handle)
    return elapsed


def warm(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.2f} {unit}" if unit == "x" else f"{name}: {value:.1f} {unit}")


def main() -> None:
    torrent, _ = seed()
    source = PieceStore(torrent, CACHE / "seed")
    blocks = [(p, b, source.read_block(p, b, n)) for p, b, n in block_order(source)]
    mb = SIZE / 1e6

    ours, raw = (
        best(lambda: time_bitswarm_write(torrent, blocks)),
        best(lambda: time_raw_write(blocks)),
    )
    line("write bitswarm DiskIO", mb / ours, "MB/s")
    line("write raw pwrite", mb / raw, "MB/s")
    line("write ratio bitswarm/raw", raw / ours, "x")

    warm(CACHE / "dl")
    line("hash bitswarm DiskIO.hash_piece", mb / best(lambda: time_hash(torrent)), "MB/s")

    ours, theirs = (
        best(lambda: time_restore(torrent, force=True)),
        best(lambda: time_libtorrent_check(torrent)),
    )
    line("recheck bitswarm restore(force)", mb / ours, "MB/s")
    line("recheck libtorrent", mb / theirs, "MB/s")
    line("recheck ratio bitswarm/libtorrent", theirs / ours, "x")

    save_resume(
        CACHE / "state", snapshot(torrent, CACHE / "dl", Bitfield.full(torrent.piece_count))
    )
    line("resume bitswarm restore", 1000 * best(lambda: time_restore(torrent, force=False)), "ms")


if __name__ == "__main__":
    main()
