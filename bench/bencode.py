"""Bencode (BEP 3) speed: bitswarm's codecs against fastbencode and bencode.py.

The document is what a large real torrent looks like: 10,000 files in nested
folders and the SHA-1 of every 2 MiB piece of ~40 GB of content. Each codec
decodes and encodes it; the figure is the best of several runs, in MB/s, with
each codec's ratio to fastbencode (a Rust extension) printed beside it in the
same run, since a lone absolute time on a shared machine means little.

Run: ``python bench/bencode.py`` (build the accelerator first:
``python setup.py build_ext --inplace``, or ``pip install -e .``).
"""

from __future__ import annotations

import hashlib
import importlib
import random
import sys
import timeit
from collections.abc import Callable
from typing import Any

import bencodepy

from bitswarm.core import bencode

# fastbencode quietly falls back to pure Python when its Rust module is missing:
# import the Rust module itself, so the reference is never silently the slow one.
fastbencode_rs = importlib.import_module("fastbencode._bencode_rs")

FILES = 10_000
PIECE_LENGTH = 2 * 1024 * 1024
REPEATS = 5

Codec = tuple[Callable[[bytes], object], Callable[[Any], bytes]]


def build_torrent(files: int = FILES, seed: int = 3) -> bytes:
    """A v1 multi-file torrent: nested paths, real file sizes, a real-sized pieces string."""
    rng = random.Random(seed)
    entries: list[dict[bytes, Any]] = []
    for n in range(files):
        folders = [b"Season %02d" % (n // 1000), b"disc-%d" % (n // 100 % 10)]
        folders += [b"extras"] * rng.randint(0, 2)
        name = b"track-%05d %s.flac" % (n, rng.choice([b"live", b"studio", b"demo"]))
        entries.append({b"length": rng.randint(1_000, 8_000_000), b"path": [*folders, name]})
    total = sum(entry[b"length"] for entry in entries)
    pieces = -(-total // PIECE_LENGTH)
    info = {
        b"files": entries,
        b"name": b"The Complete Recordings",
        b"piece length": PIECE_LENGTH,
        b"pieces": b"".join(hashlib.sha1(b"%d" % k).digest() for k in range(pieces)),
    }
    torrent: dict[bytes, Any] = {
        b"announce": b"http://127.0.0.1:6969/announce",
        b"comment": b"bitswarm benchmark torrent",
        b"created by": b"bitswarm",
        b"creation date": 1_700_000_000,
        b"info": info,
    }
    return bencode.PYTHON.encode(torrent)


def codecs() -> dict[str, Codec]:
    found: dict[str, Codec] = {}
    if bencode.ACCELERATED is not None:
        found["bitswarm_c"] = (bencode.ACCELERATED.decode, bencode.ACCELERATED.encode)
    found["bitswarm_python"] = (bencode.PYTHON.decode, bencode.PYTHON.encode)
    found["fastbencode"] = (fastbencode_rs.bdecode, fastbencode_rs.bencode)
    found["bencodepy"] = (bencodepy.decode, bencodepy.encode)
    return found


def best_seconds(call: Callable[[], object]) -> float:
    """Best time of one call over REPEATS rounds, each long enough to time."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def main() -> None:
    data = build_torrent()
    value = bencode.PYTHON.decode(data)
    megabytes = len(data) / 1e6
    print(f"torrent_files: {FILES} files")
    print(f"torrent_size: {megabytes:.3f} MB")
    if bencode.ACCELERATED is None:
        print("bitswarm's C accelerator is not built: python setup.py build_ext", file=sys.stderr)
    found = codecs()
    for name, (decode, encode) in found.items():
        if decode(data) != value or encode(value) != data:
            raise SystemExit(f"{name} does not round-trip the benchmark torrent")
    calls: dict[str, Callable[[Codec], Callable[[], object]]] = {
        "decode": lambda codec: lambda: codec[0](data),
        "encode": lambda codec: lambda: codec[1](value),
    }
    for operation, bind in calls.items():
        speeds = {name: megabytes / best_seconds(bind(codec)) for name, codec in found.items()}
        for name, speed in speeds.items():
            print(f"{operation}_{name}: {speed:.1f} MB/s")
            if name != "fastbencode":
                ratio = speed / speeds["fastbencode"]
                print(f"{operation}_{name}_vs_fastbencode: {ratio:.2f} x")


if __name__ == "__main__":
    main()
