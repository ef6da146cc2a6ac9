"""Torrent creation speed: bitswarm against mktorrent and libtorrent, on one 2 GiB file.

The file is made once (random bytes, kept in ``$BITSWARM_BENCH_CACHE`` or
``/tmp/bitswarm-bench``) and read through once before timing, so every tool
hashes from a warm page cache and the figure is hashing, not the disk. All
three make a v1 torrent with the same piece length (libtorrent's automatic
choice for 2 GiB, 512 KiB): bitswarm's ``create_torrent`` (one hashing thread
per core), ``mktorrent -t 2`` (Debian's, OpenSSL SHA-1 on two threads) and
libtorrent's ``create_torrent`` + ``set_piece_hashes`` (PyPI wheel, default
settings). Then bitswarm and libtorrent make a hybrid torrent (SHA-1 and
SHA-256 merkle trees). Each figure is the best of a few runs, in MB/s
(10^6 bytes), with bitswarm's ratio to each reference printed in the same run:
on a shared machine a lone absolute time means little. The v1 piece hashes of
the three tools are compared, so a fast wrong answer cannot pass.

Run: ``python bench/create.py`` (it needs ``mktorrent`` on the PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import libtorrent as lt

from bitswarm.core.metainfo import Version, parse_torrent
from bitswarm.core.metainfo.piece_size import auto_piece_length
from bitswarm.storage.create import create_torrent

SIZE = 2 * 1024**3
PIECE_LENGTH = auto_piece_length(SIZE)
REPEATS = 3
CACHE = Path(os.environ.get("BITSWARM_BENCH_CACHE", "/tmp/bitswarm-bench"))
CHUNK = 16 * 1024 * 1024


def data_file() -> Path:
    """The 2 GiB file of random bytes, made on first use, then read once to warm the cache."""
    path = CACHE / "create-2GiB.bin"
    if not path.exists() or path.stat().st_size != SIZE:
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as out:
            for _ in range(SIZE // CHUNK):
                out.write(os.urandom(CHUNK))
        partial.rename(path)
    with path.open("rb", buffering=0) as handle:
        while handle.read(CHUNK):
            pass
    return path


def bitswarm_pieces(path: Path, version: Version) -> bytes:
    return create_torrent(path, version=version, piece_length=PIECE_LENGTH).pieces


def mktorrent_pieces(path: Path, mktorrent: str) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.torrent"
        exponent = PIECE_LENGTH.bit_length() - 1
        command = [mktorrent, "-t", "2", "-l", str(exponent), "-o", str(out), str(path)]
        subprocess.run(command, check=True, capture_output=True)
        return parse_torrent(out.read_bytes()).pieces


def libtorrent_pieces(path: Path, version: Version) -> bytes:
    warnings.simplefilter("ignore", DeprecationWarning)  # the file_storage constructor
    files = lt.file_storage()
    files.add_file(path.name, path.stat().st_size)
    flags = lt.create_torrent.v1_only if version == "v1" else 0
    creator = lt.create_torrent(files, PIECE_LENGTH, flags=flags)
    lt.set_piece_hashes(creator, str(path.parent))
    return parse_torrent(bytes(lt.bencode(creator.generate()))).pieces


def best_rate(make: Callable[[], bytes]) -> tuple[float, bytes]:
    """Best MB/s over ``REPEATS`` runs, and the pieces string the last run made."""
    best = float("inf")
    pieces = b""
    for _ in range(REPEATS):
        start = time.perf_counter()
        pieces = make()
        best = min(best, time.perf_counter() - start)
    return SIZE / best / 1e6, pieces


def main() -> int:
    mktorrent = shutil.which("mktorrent")
    if mktorrent is None:
        print("mktorrent is not installed", file=sys.stderr)
        return 2
    path = data_file()
    print(f"size: {SIZE / 1e6:.0f} MB")
    print(f"piece_length: {PIECE_LENGTH} bytes")
    print(f"cores: {os.cpu_count()} count")

    ours, ours_pieces = best_rate(lambda: bitswarm_pieces(path, "v1"))
    mk, mk_pieces = best_rate(lambda: mktorrent_pieces(path, mktorrent))
    lt_v1, lt_pieces = best_rate(lambda: libtorrent_pieces(path, "v1"))
    if not ours_pieces == mk_pieces == lt_pieces:
        print("v1 piece hashes differ between the tools", file=sys.stderr)
        return 1
    print(f"create_v1_bitswarm: {ours:.0f} MB/s")
    print(f"create_v1_mktorrent_t2: {mk:.0f} MB/s")
    print(f"create_v1_libtorrent: {lt_v1:.0f} MB/s")
    print(f"create_v1_bitswarm_vs_mktorrent: {ours / mk:.2f} x")
    print(f"create_v1_bitswarm_vs_libtorrent: {ours / lt_v1:.2f} x")

    hybrid, hybrid_pieces = best_rate(lambda: bitswarm_pieces(path, "hybrid"))
    lt_hybrid, lt_hybrid_pieces = best_rate(lambda: libtorrent_pieces(path, "hybrid"))
    if hybrid_pieces != lt_hybrid_pieces:
        print("hybrid piece hashes differ between the tools", file=sys.stderr)
        return 1
    print(f"create_hybrid_bitswarm: {hybrid:.0f} MB/s")
    print(f"create_hybrid_libtorrent: {lt_hybrid:.0f} MB/s")
    print(f"create_hybrid_bitswarm_vs_libtorrent: {hybrid / lt_hybrid:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
