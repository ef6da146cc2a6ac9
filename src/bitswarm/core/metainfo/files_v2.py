"""The v2 ``file tree`` and ``piece layers`` (BEP 52).

The file tree nests one dictionary per path component; a file is a component
whose dictionary holds only the empty key, mapping to ``length``, ``pieces root``
(for non-empty files) and BEP 47 ``attr``. Files take the tree's order, and each
non-empty file starts on a piece boundary of the piece space, so a piece never
spans two files. Whether the torrent is single-file follows from the tree: one
file at the top level (unless a hybrid's v1 part lists it in a folder).
Otherwise the files live in a folder called ``name``, as they do in v1
(libtorrent makes the same choices).

``piece layers`` (outside the info dictionary) holds, for every file longer
than one piece, the row of its merkle tree in which one hash covers one piece.
Its length must fit the file and its root must be the file's ``pieces root``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial

from bitswarm.core.bencode import Value
from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.fields import Fields, as_bytes, as_dict, key_path
from bitswarm.core.metainfo.files_v1 import FileProperties, file_properties
from bitswarm.core.metainfo.merkle import BLOCK_SIZE, HASH_SIZE, file_root, split_layer
from bitswarm.core.metainfo.model import FileEntry
from bitswarm.core.metainfo.paths import check_component

_Leaf = tuple[tuple[str, ...], FileProperties, bytes | None]


def check_v2_piece_length(info: Fields, piece_length: int) -> None:
    if piece_length < BLOCK_SIZE or piece_length & (piece_length - 1):
        raise TorrentError(
            info.at(b"piece length"),
            f"{piece_length} is not a power of two of at least {BLOCK_SIZE} (BEP 52)",
        )


def _walk(node: Fields, prefix: tuple[str, ...]) -> Iterator[_Leaf]:
    if not node.data:
        raise TorrentError(node.where, "empty directory")
    base = node.where
    for key, value in node.data.items():
        where = partial(key_path, base, key)
        try:
            component = key.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TorrentError(where(), f"not valid UTF-8 at byte {exc.start}") from None
        path = (*prefix, check_component(component, where))
        child = Fields(value, where)
        if b"" not in child.data:
            yield from _walk(child, path)
            continue
        if len(child.data) != 1:
            raise TorrentError(where(), "a file entry with other names beside it")
        leaf = child.child(b"")
        properties = file_properties(leaf)
        if "p" in properties[1]:
            raise TorrentError(leaf.at(b"attr"), "a pad file in the tree; v2 aligns files itself")
        root = leaf.opt_bytes(b"pieces root", size=HASH_SIZE)
        if properties[0] and root is None:
            raise TorrentError(leaf.at(b"pieces root"), "missing for a non-empty file")
        if not properties[0] and root is not None:
            raise TorrentError(leaf.at(b"pieces root"), "given for an empty file")
        yield path, properties, root


def parse_file_tree(
    info: Fields, name: str, piece_length: int, *, in_folder: bool = False
) -> tuple[FileEntry, ...]:
    """The files of ``file tree``, each starting on a piece boundary (as libtorrent places them).

    ``in_folder`` puts even a lone file in the ``name`` folder: a hybrid
    torrent whose v1 part is a ``files`` list says so (libtorrent reads it so).
    """
    tree = info.child(b"file tree")
    if b"" in tree.data:
        raise TorrentError(tree.where, "the root of the tree is a file, not a folder")
    leaves = list(_walk(tree, ()))
    single = not in_folder and len(leaves) == 1 and len(leaves[0][0]) == 1
    entries = []
    position = 0
    for path, (length, attr, symlink), root in leaves:
        position = -(-position // piece_length) * piece_length
        if not single:
            path = (name, *path)
            symlink = None if symlink is None else (name, *symlink)
        entries.append(FileEntry(path, length, position, attr, root, symlink))
        position += length
    return tuple(entries)


def check_piece_layers(
    value: Value | None, files: tuple[FileEntry, ...], piece_length: int, *, required: bool
) -> Mapping[bytes, bytes]:
    """The ``piece layers`` dictionary, each layer checked against its file's root.

    With ``required`` every file longer than a piece needs its layer (a
    ``.torrent`` file); without it, layers may be absent (bare metadata from
    peers, BEP 9) but those present are still checked.
    """
    layers: dict[bytes, bytes] = {}
    owners = {e.pieces_root: e for e in files if e.pieces_root and e.length > piece_length}
    for root, raw in ({} if value is None else as_dict(value, "piece layers")).items():
        where = f"piece layers[{root.hex()}]"
        owner = owners.get(root)
        if owner is None:
            raise TorrentError(where, "no file longer than one piece has this pieces root")
        layer = as_bytes(raw, where)
        shown = "/".join(owner.path)
        expected = -(-owner.length // piece_length) * HASH_SIZE
        if len(layer) != expected:
            raise TorrentError(
                where,
                f"{len(layer)} bytes, but {shown} ({owner.length} bytes) "
                f"needs {expected // HASH_SIZE} hashes of {HASH_SIZE} bytes",
            )
        if file_root(split_layer(layer), owner.length, piece_length) != root:
            raise TorrentError(where, f"hashes do not add up to the pieces root of {shown}")
        layers[root] = layer
    if required:
        for root, owner in owners.items():
            if root not in layers:
                raise TorrentError("piece layers", f"missing the layer of {'/'.join(owner.path)}")
    return layers
