"""Laying out the files of a new torrent and writing its info dictionary (BEP 3, 47, 52).

A new torrent's files are put in canonical order: sorted by path, compared as
the UTF-8 bytes of the ``/``-joined path, which is the order BEP 52 trees imply
and libtorrent uses. v1 torrents concatenate the files as they come. v2 and
hybrid torrents need each non-empty file to start on a piece boundary; a hybrid
torrent states that in its v1 file list with BEP 47 pad files (``attr`` ``p``,
path ``.pad/<length>``), which read as zeros.

Where the pads go follows libtorrent 2.x, so that the same files and piece
length give the same info-hashes here and there: a pad *follows* every
non-empty file that does not end on a piece boundary, the last file included,
and a torrent of a single file gets none (its last piece is short, as in v1).

The hashes themselves come from :mod:`bitswarm.core.metainfo.hashing`, fed by
storage; :func:`info_dictionary` turns layout and hashes into the info
dictionary, and :func:`piece_layers` into BEP 52's ``piece layers``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bitswarm.core.bencode import Value
from bitswarm.core.metainfo.model import FileEntry, Version


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file to put in a new torrent.

    ``path`` starts with the torrent's name, like :attr:`FileEntry.path`: it is
    ``(name,)`` for a torrent of one file and ``(name, *components)`` for the
    files of a folder. ``attr`` holds BEP 47 letters (``x`` for executable).
    """

    path: tuple[str, ...]
    length: int
    attr: str = ""


def _sort_key(file: NewFile) -> bytes:
    return "/".join(file.path).encode("utf-8")


def lay_out(files: Sequence[NewFile], piece_length: int, version: Version) -> tuple[FileEntry, ...]:
    """The files in canonical order with their offsets in the piece space, pads included.

    For ``"v2"`` the entries are aligned as for ``"hybrid"`` but the pad entries
    are left out, as a v2 torrent has no v1 file list to hold them.
    """
    if not files:
        raise ValueError("a torrent needs at least one file")
    ordered = sorted(files, key=_sort_key)
    names = {file.path[0] for file in ordered}
    if len(names) != 1:
        raise ValueError(f"files must share one top-level name, got {sorted(names)}")
    if len({file.path for file in ordered}) != len(ordered):
        raise ValueError("two files have the same path")
    aligned = version != "v1" and len(ordered) > 1
    entries: list[FileEntry] = []
    offset = 0
    for file in ordered:
        entries.append(FileEntry(file.path, file.length, offset, file.attr))
        offset += file.length
        gap = -offset % piece_length
        if aligned and file.length and gap:
            pad = FileEntry((file.path[0], ".pad", str(gap)), gap, offset, "p")
            entries.append(pad)
            offset += gap
    if sum(entry.length for entry in entries) == 0:
        raise ValueError("a torrent needs at least one byte of content")
    if version == "v2":
        return tuple(entry for entry in entries if not entry.is_pad)
    return tuple(entries)


def with_roots(layout: Sequence[FileEntry], roots: Mapping[int, bytes]) -> tuple[FileEntry, ...]:
    """``layout`` with the ``pieces root`` of entry ``i`` set to ``roots[i]``."""
    return tuple(
        dataclasses.replace(entry, pieces_root=roots[i]) if i in roots else entry
        for i, entry in enumerate(layout)
    )


def _file_fields(entry: FileEntry) -> dict[bytes, Value]:
    fields: dict[bytes, Value] = {b"length": entry.length}
    if entry.attr:
        fields[b"attr"] = entry.attr.encode()
    return fields


def _file_tree(layout: Sequence[FileEntry], single: bool) -> dict[bytes, Value]:
    tree: dict[bytes, Value] = {}
    for entry in layout:
        if entry.is_pad:
            continue
        leaf = _file_fields(entry)
        if entry.length:
            if entry.pieces_root is None:
                raise ValueError(f"no pieces root for {'/'.join(entry.path)}")
            leaf[b"pieces root"] = entry.pieces_root
        node = tree
        for component in entry.path if single else entry.path[1:]:
            child = node.setdefault(component.encode(), {})
            assert isinstance(child, dict)
            node = child
        node[b""] = leaf
    return tree


def info_dictionary(
    layout: Sequence[FileEntry],
    piece_length: int,
    version: Version,
    *,
    pieces: bytes,
    private: bool = False,
    source: str | None = None,
) -> dict[bytes, Value]:
    """The info dictionary of a torrent of ``layout`` (from :func:`lay_out` and :func:`with_roots`).

    ``pieces`` is the concatenated SHA-1 piece hashes (empty for ``"v2"``).
    """
    name = layout[0].path[0]
    single = len(layout) == 1 and len(layout[0].path) == 1
    info: dict[bytes, Value] = {b"name": name.encode(), b"piece length": piece_length}
    if version != "v2":
        info[b"pieces"] = pieces
        if single:
            info.update(_file_fields(layout[0]))
        else:
            info[b"files"] = [
                {**_file_fields(entry), b"path": [part.encode() for part in entry.path[1:]]}
                for entry in layout
            ]
    if version != "v1":
        info[b"meta version"] = 2
        info[b"file tree"] = _file_tree(layout, single)
    if private:
        info[b"private"] = 1
    if source:
        info[b"source"] = source.encode()
    return info


def piece_layers(
    layout: Sequence[FileEntry], layers: Mapping[int, Sequence[bytes]], piece_length: int
) -> dict[bytes, bytes]:
    """BEP 52 ``piece layers``: for each file longer than a piece, its root to its layer."""
    return {
        entry.pieces_root: b"".join(layers[i])
        for i, entry in enumerate(layout)
        if entry.pieces_root is not None and entry.length > piece_length
    }
