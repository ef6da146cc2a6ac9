"""Editing a torrent: outer fields keep the info-hash; private and source re-hash."""

from __future__ import annotations

import hashlib

import pytest
from metainfo_builder import SAMPLE_FILES, make_info, make_torrent

from bitswarm.core.bencode import decode, encode
from bitswarm.core.metainfo import TorrentError, build_torrent, parse_torrent, rehash


@pytest.fixture(params=["v1", "v2", "hybrid"])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_outer_edits_keep_the_info_bytes(version: str) -> None:
    original = parse_torrent(make_torrent(SAMPLE_FILES, version=version, outer={"comment": "old"}))
    edited = (
        original.with_trackers([["http://127.0.0.1:1/a", ""], [], ["udp://127.0.0.1:2"]])
        .with_web_seeds(["http://127.0.0.1:3/", ""])
        .with_comment("new")
        .with_created_by("bitswarm")
        .with_creation_date(1234)
    )
    again = parse_torrent(edited.to_bytes())
    assert again.info_bytes == original.info_bytes
    assert (again.info_hash_v1, again.info_hash_v2) == (
        original.info_hash_v1,
        original.info_hash_v2,
    )
    assert again.trackers == (("http://127.0.0.1:1/a",), ("udp://127.0.0.1:2",))
    assert again.web_seeds == ("http://127.0.0.1:3/",)
    assert (again.comment, again.created_by, again.creation_date) == ("new", "bitswarm", 1234)
    assert again == edited
    cleared = parse_torrent(edited.with_trackers([]).with_comment(None).to_bytes())
    assert cleared.trackers == () and cleared.comment is None
    assert b"announce" not in decode(cleared.to_bytes())  # type: ignore[operator]


def test_two_web_seeds_are_written_as_a_list() -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES)).with_web_seeds(["http://a/", "http://b/"])
    top = decode(torrent.to_bytes())
    assert isinstance(top, dict)
    assert top[b"url-list"] == [b"http://a/", b"http://b/"]


def test_rehash_private_and_source_changes_the_info_hash(version: str) -> None:
    data = make_torrent(SAMPLE_FILES, version=version, outer={"announce": "http://x/"})
    original = parse_torrent(data)
    private = rehash(original, private=True)
    assert private.private and not original.private
    assert private.info_hash != original.info_hash
    assert private.info_hash_v2 != original.info_hash_v2 or version == "v1"
    assert private.trackers == original.trackers
    assert private.piece_layers == original.piece_layers
    sourced = rehash(private, source="TRK")
    assert (sourced.private, sourced.source) == (True, "TRK")
    assert len({original.info_hash, private.info_hash, sourced.info_hash}) == 3
    kept = rehash(sourced)
    assert kept.info_hash == sourced.info_hash
    back = rehash(sourced, private=False, source=None)
    assert back.info_hash == original.info_hash
    assert parse_torrent(back.to_bytes()) == back


def test_build_from_dict_or_bytes_matches_parsing(version: str) -> None:
    info, layers = make_info(SAMPLE_FILES, version=version)
    built = build_torrent(
        info,
        trackers=[["http://127.0.0.1:1/a"]],
        comment="c",
        creation_date=7,
        piece_layers=layers if version != "v1" else None,
    )
    assert built.info_hash == hashlib.sha1(encode(info)).digest() or version == "v2"
    assert built == parse_torrent(built.to_bytes())
    assert build_torrent(encode(info)).info_bytes == built.info_bytes


def test_bare_metadata_may_lack_piece_layers_but_a_file_may_not() -> None:
    info, layers = make_info(SAMPLE_FILES, version="v2")
    bare = build_torrent(encode(info))
    assert bare.piece_layers == {}
    with pytest.raises(KeyError):
        bare.piece_layer(bare.files[0])
    with pytest.raises(TorrentError, match="piece layers: missing the layer"):
        parse_torrent(bare.to_bytes())
    with pytest.raises(TorrentError, match="missing the layer"):
        build_torrent(encode(info), piece_layers={})
    assert build_torrent(info, piece_layers=layers).piece_layers == layers
