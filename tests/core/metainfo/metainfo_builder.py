"""Hand-built ``.torrent`` files for the metainfo tests, hashed from bytes in memory.

Independent of bitswarm's own torrent creation, so the parser is checked
against an encoder written from the BEPs, not against itself. Merkle roots come
from :mod:`bitswarm.core.metainfo.merkle`, which has tests of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from bitswarm.core.bencode import encode
from bitswarm.core.metainfo.merkle import file_root, piece_root, piece_width

Files = Sequence[tuple[tuple[str, ...], bytes]]


def v2_layer(data: bytes, piece_length: int) -> list[bytes]:
    width = piece_width(len(data), piece_length)
    starts = range(0, len(data), piece_length)
    return [piece_root(data[i : i + piece_length], width) for i in starts]


def file_tree(files: Files, piece_length: int) -> tuple[dict[str, Any], dict[bytes, bytes]]:
    tree: dict[str, Any] = {}
    layers: dict[bytes, bytes] = {}
    for path, data in files:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        leaf: dict[str, Any] = {"length": len(data)}
        if data:
            layer = v2_layer(data, piece_length)
            leaf["pieces root"] = file_root(layer, len(data), piece_length)
            if len(data) > piece_length:
                layers[leaf["pieces root"]] = b"".join(layer)
        node[path[-1]] = {"": leaf}
    return tree, layers


def v1_part(files: Files, piece_length: int, *, pad: bool, single: bool) -> dict[str, Any]:
    """``length`` or ``files`` and ``pieces``; with ``pad``, BEP 47 pad files after each file."""
    listed: list[dict[str, Any]] = []
    stream = b""
    for index, (path, data) in enumerate(files):
        listed.append({"length": len(data), "path": list(path)})
        stream += data
        gap = -len(stream) % piece_length
        if pad and gap and index < len(files) - 1:
            listed.append({"attr": "p", "length": gap, "path": [".pad", str(gap)]})
            stream += bytes(gap)
    pieces = b"".join(
        hashlib.sha1(stream[i : i + piece_length]).digest()
        for i in range(0, len(stream), piece_length)
    )
    if single:
        return {"length": len(files[0][1]), "pieces": pieces}
    return {"files": listed, "pieces": pieces}


def make_info(
    files: Files,
    *,
    version: str = "v1",
    name: str = "content",
    piece_length: int = 16384,
    single: bool = False,
    **extra: Any,
) -> tuple[dict[str, Any], dict[bytes, bytes]]:
    """An info dictionary and its piece layers; ``single`` makes ``files[0]`` a lone file."""
    info: dict[str, Any] = {"name": files[0][0][0] if single else name}
    info["piece length"] = piece_length
    layers: dict[bytes, bytes] = {}
    if version != "v1":
        info["meta version"] = 2
        info["file tree"], layers = file_tree(files, piece_length)
    if version != "v2":
        info.update(v1_part(files, piece_length, pad=version == "hybrid", single=single))
    info.update(extra)
    return info, layers


def make_torrent(files: Files, *, outer: dict[str, Any] | None = None, **options: Any) -> bytes:
    """A whole ``.torrent`` file: ``options`` go to :func:`make_info`, ``outer`` beside ``info``."""
    info, layers = make_info(files, **options)
    document: dict[str, Any] = {"info": info, **(outer or {})}
    if "meta version" in info:  # BEP 52: present even when empty, as libtorrent writes it
        document["piece layers"] = layers
    return encode(document)


SAMPLE_FILES: Files = (
    (("a.bin",), bytes(range(256)) * 200),  # 51200 bytes: 4 pieces of 16 KiB
    (("empty",), b""),
    (("sub", "b.txt"), b"hello world"),
    (("sub", "c.bin"), b"\x01" * 16384),  # exactly one piece
)
