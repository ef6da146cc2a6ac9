"""Reading torrents and mapping pieces: bitswarm against libtorrent's ``torrent_info``.

Two documents the size of large real torrents: a v1 torrent of 10,000 files
in nested folders over ~40 GB in 2 MiB pieces, and a hybrid (v1 + v2) torrent
of 2,000 files whose ``piece layers`` must be checked against every file's
merkle root. Hashes are random but consistent (the merkle roots are computed
from the random layers), so both readers accept and fully validate them; no
file content is hashed. Figures: torrents parsed per second by
``parse_torrent`` and by ``libtorrent.torrent_info``, and 16 KiB block
requests mapped to file slices per second by ``Layout.block_spans`` and by
``torrent_info.map_block``, each the best of a few runs, with bitswarm's ratio
to libtorrent printed beside it in the same run.

Run: ``python bench/metainfo.py``.
"""

from __future__ import annotations

import random
import timeit
from collections.abc import Callable
from typing import Any

import libtorrent as lt

from bitswarm.core.bencode import encode
from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import parse_torrent
from bitswarm.core.metainfo.merkle import file_root

PIECE_LENGTH = 2 * 1024 * 1024
BLOCK = 16 * 1024
REPEATS = 5
LOOKUPS = 20_000


def nested_path(n: int, name: str) -> list[str]:
    return [f"Season {n // 1000:02d}", f"disc-{n // 100 % 10}", name]


def v1_torrent(rng: random.Random, files: int = 10_000) -> bytes:
    entries = [
        {"length": rng.randint(1_000, 8_000_000), "path": nested_path(n, f"track-{n:05d}.flac")}
        for n in range(files)
    ]
    pieces = -(-sum(entry["length"] for entry in entries) // PIECE_LENGTH)
    info = {"files": entries, "name": "archive", "piece length": PIECE_LENGTH}
    info["pieces"] = rng.randbytes(20 * pieces)
    return encode({"announce": "http://127.0.0.1:6969/announce", "info": info})


def hybrid_torrent(rng: random.Random, files: int = 2_000) -> bytes:
    listed: list[dict[str, Any]] = []
    tree: dict[str, Any] = {}
    layers: dict[bytes, bytes] = {}
    stream = 0
    for n in range(files):
        length = rng.randint(1_000, 40_000_000)
        path = nested_path(n, f"clip-{n:05d}.mkv")
        layer = [rng.randbytes(32) for _ in range(-(-length // PIECE_LENGTH))]
        root = file_root(layer, length, PIECE_LENGTH)
        if len(layer) > 1:
            layers[root] = b"".join(layer)
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = {"": {"length": length, "pieces root": root}}
        listed.append({"length": length, "path": path})
        stream += length
        gap = -stream % PIECE_LENGTH
        if gap and n < files - 1:
            listed.append({"attr": "p", "length": gap, "path": [".pad", str(gap)]})
            stream += gap
    info = {
        "file tree": tree,
        "files": listed,
        "meta version": 2,
        "name": "clips",
        "piece length": PIECE_LENGTH,
        "pieces": rng.randbytes(20 * -(-stream // PIECE_LENGTH)),
    }
    return encode({"info": info, "piece layers": layers})


def best_rate(call: Callable[[], object], count: int) -> float:
    """Operations per second over ``count`` operations, best of ``REPEATS``."""
    return count / min(timeit.repeat(call, number=1, repeat=REPEATS))


def report(name: str, ours: float, theirs: float, unit: str) -> None:
    print(f"{name}_bitswarm: {ours:.1f} {unit}")
    print(f"{name}_libtorrent: {theirs:.1f} {unit}")
    print(f"{name}_bitswarm_vs_libtorrent: {ours / theirs:.2f} x")


def bench_block_map(label: str, layout: Layout, info: Any, rng: random.Random) -> None:
    jobs = []
    for _ in range(LOOKUPS):
        piece = rng.randrange(layout.piece_count)
        size = layout.piece_size(piece)
        begin = rng.randrange(0, -(-size // BLOCK)) * BLOCK
        jobs.append((piece, begin, min(BLOCK, size - begin)))

    def ours() -> None:
        for piece, begin, size in jobs:
            layout.block_spans(piece, begin, size)

    def theirs() -> None:
        for piece, begin, size in jobs:
            info.map_block(piece, begin, size)

    report(f"{label}_block_map", best_rate(ours, LOOKUPS), best_rate(theirs, LOOKUPS), "ops/s")


def bench_parse(label: str, data: bytes) -> None:
    report(
        f"{label}_parse",
        best_rate(lambda: parse_torrent(data), 1),
        best_rate(lambda: lt.torrent_info(data), 1),
        "torrents/s",
    )


def main() -> None:
    rng = random.Random(47)
    for label, data in (("v1", v1_torrent(rng)), ("hybrid", hybrid_torrent(rng))):
        torrent = parse_torrent(data)
        info = lt.torrent_info(data)
        assert torrent.info_hash.hex() == str(info.info_hashes().v1)
        print(f"{label}_torrent_size: {len(data) / 1e6:.3f} MB")
        print(f"{label}_files: {len(torrent.files)} files")
        bench_parse(label, data)
        bench_block_map(label, Layout.of(torrent), info, rng)


if __name__ == "__main__":
    main()
