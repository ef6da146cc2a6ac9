"""Pieces rebuilt from Layout spans hash to the torrent's v1 hashes and v2 piece layers."""

from __future__ import annotations

import hashlib

import pytest
from metainfo_builder import SAMPLE_FILES, make_torrent

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import parse_torrent
from bitswarm.core.metainfo.merkle import piece_root, piece_width


def content(path: tuple[str, ...]) -> bytes:
    return {p: data for p, data in SAMPLE_FILES}.get(path[1:], b"")


@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_v1_pieces_rebuilt_from_spans_match_their_hashes(version: str) -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES, version=version, piece_length=16384))
    layout = Layout.of(torrent)
    assert layout.piece_count == torrent.piece_count
    for piece in range(layout.piece_count):
        data = b"".join(
            bytes(s.length)
            if s.is_pad
            else content(torrent.files[s.file_index].path)[s.offset : s.offset + s.length]
            for s in layout.piece_spans(piece)
        )
        assert len(data) == layout.piece_size(piece)
        assert hashlib.sha1(data).digest() == torrent.piece_hash_v1(piece)


@pytest.mark.parametrize("version", ["v2", "hybrid"])
def test_v2_pieces_rebuilt_from_spans_match_their_layers(version: str) -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES, version=version))
    layout = Layout.of(torrent)
    for index, entry in enumerate(torrent.files):
        if entry.is_pad:
            continue
        hashes = torrent.piece_layer(entry)
        assert len(layout.file_pieces(index)) == len(hashes)
        width = piece_width(entry.length, torrent.piece_length)
        for piece, expected in zip(layout.file_pieces(index), hashes, strict=True):
            spans = [s for s in layout.piece_spans(piece) if s.file_index == index]
            data = b"".join(content(entry.path)[s.offset : s.offset + s.length] for s in spans)
            assert piece_root(data, width) == expected
