"""parse_torrent on well-formed v1, v2 and hybrid torrents, and writing them back."""

from __future__ import annotations

import hashlib

import pytest
from metainfo_builder import SAMPLE_FILES, make_info, make_torrent

from bitswarm.core.bencode import decode, decode_with_spans, encode
from bitswarm.core.metainfo import FileEntry, parse_torrent

PL = 16384


def info_bytes(data: bytes) -> bytes:
    _, spans = decode_with_spans(data, strict=False)
    start, end = spans[b"info"]
    return data[start:end]


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_info_hashes_cover_the_info_bytes(version: str) -> None:
    data = make_torrent(SAMPLE_FILES, version=version)
    torrent = parse_torrent(data)
    raw = info_bytes(data)
    assert torrent.version == version
    assert torrent.info_bytes == raw
    v1 = hashlib.sha1(raw).digest() if version != "v2" else None
    v2 = hashlib.sha256(raw).digest() if version != "v1" else None
    assert (torrent.info_hash_v1, torrent.info_hash_v2) == (v1, v2)
    assert torrent.info_hash == (v1 or hashlib.sha256(raw).digest()[:20])
    assert torrent.meta_version == (None if version == "v1" else 2)


def test_v1_multi_file_layout() -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES, name="folder"))
    assert torrent.name == "folder"
    assert torrent.is_multi_file
    assert [(e.path, e.length, e.offset) for e in torrent.files] == [
        (("folder", "a.bin"), 51200, 0),
        (("folder", "empty"), 0, 51200),
        (("folder", "sub", "b.txt"), 11, 51200),
        (("folder", "sub", "c.bin"), 16384, 51211),
    ]
    assert torrent.total_size == torrent.stream_size == 51200 + 11 + 16384
    assert torrent.piece_count == 5
    assert torrent.last_piece_size == 67595 - 4 * PL
    assert len(torrent.pieces) == 5 * 20
    stream = b"".join(data for _, data in SAMPLE_FILES)
    assert torrent.piece_hash_v1(4) == hashlib.sha1(stream[4 * PL :]).digest()
    with pytest.raises(IndexError):
        torrent.piece_hash_v1(5)


def test_v2_files_start_on_piece_boundaries() -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES, version="v2", name="folder"))
    assert [(e.path[1:], e.length, e.offset) for e in torrent.files] == [
        (("a.bin",), 51200, 0),
        (("empty",), 0, 4 * PL),
        (("sub", "b.txt"), 11, 4 * PL),
        (("sub", "c.bin"), 16384, 5 * PL),
    ]
    assert torrent.pieces == b""
    assert torrent.piece_count == 6
    assert torrent.last_piece_size == PL
    assert torrent.total_size == 51200 + 11 + 16384
    first = torrent.files[0]
    assert first.pieces_root is not None and len(first.pieces_root) == 32
    assert torrent.files[1].pieces_root is None
    assert len(torrent.piece_layer(first)) == 4
    assert torrent.piece_layer(torrent.files[1]) == ()
    assert torrent.piece_layer(torrent.files[2]) == (torrent.files[2].pieces_root,)
    assert set(torrent.piece_layers) == {first.pieces_root}


def test_hybrid_keeps_pad_files_and_roots() -> None:
    torrent = parse_torrent(make_torrent(SAMPLE_FILES, version="hybrid", name="folder"))
    pads = [e for e in torrent.files if e.is_pad]
    assert [(e.path, e.length, e.offset) for e in pads] == [
        (("folder", ".pad", "14336"), 14336, 51200),
        (("folder", ".pad", "16373"), 16373, 4 * PL + 11),
    ]
    real = [e for e in torrent.files if not e.is_pad]
    v2 = parse_torrent(make_torrent(SAMPLE_FILES, version="v2", name="folder"))
    assert [(e.path, e.length, e.pieces_root) for e in real] == [
        (e.path, e.length, e.pieces_root) for e in v2.files
    ]
    assert torrent.total_size == v2.total_size
    assert torrent.piece_count == v2.piece_count == len(torrent.pieces) // 20


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_single_file(version: str) -> None:
    files = [(("movie.mkv",), b"x" * 40000)]
    torrent = parse_torrent(make_torrent(files, version=version, single=True))
    assert torrent.name == "movie.mkv"
    assert not torrent.is_multi_file
    assert [(e.path, e.length, e.offset) for e in torrent.files] == [(("movie.mkv",), 40000, 0)]
    assert torrent.piece_count == 3
    assert torrent.last_piece_size == 40000 - 2 * PL


def test_outer_fields() -> None:
    outer = {
        "announce": "http://127.0.0.1:1/ignored-when-a-list-is-present",
        "announce-list": [["http://127.0.0.1:1/a", "udp://127.0.0.1:2"], [], ["http://[::1]:3"]],
        "url-list": ["http://127.0.0.1:8/seed/", ""],
        "comment": "héllo",
        "created by": "hand",
        "creation date": 1700000000,
    }
    data = make_torrent(SAMPLE_FILES, outer=outer, private=1, source="TRK")
    torrent = parse_torrent(data)
    assert torrent.trackers == (
        ("http://127.0.0.1:1/a", "udp://127.0.0.1:2"),
        ("http://[::1]:3",),
    )
    assert torrent.web_seeds == ("http://127.0.0.1:8/seed/",)
    assert (torrent.comment, torrent.created_by, torrent.creation_date) == (
        "héllo",
        "hand",
        1700000000,
    )
    assert torrent.private and torrent.source == "TRK"


def test_announce_alone_is_one_tier_and_url_list_may_be_a_string() -> None:
    outer = {"announce": "http://127.0.0.1:1/announce", "url-list": "http://127.0.0.1/x"}
    data = make_torrent(SAMPLE_FILES, outer=outer)
    torrent = parse_torrent(data)
    assert torrent.trackers == (("http://127.0.0.1:1/announce",),)
    assert torrent.web_seeds == ("http://127.0.0.1/x",)
    assert not torrent.private and torrent.source is None and torrent.comment is None


def test_round_trip_keeps_canonical_files_byte_for_byte() -> None:
    outer = {
        "announce": "http://127.0.0.1:1/a",
        "url-list": "http://127.0.0.1/x",
        "creation date": 5,
        "x-unknown": {"k": [1, 2]},
    }
    data = make_torrent(SAMPLE_FILES, version="hybrid", outer=outer)
    torrent = parse_torrent(data)
    assert torrent.extra == {b"x-unknown": {b"k": [1, 2]}}
    assert torrent.to_bytes() == data
    assert parse_torrent(torrent.to_bytes()) == torrent


def test_unsorted_info_dictionary_keeps_its_bytes_and_hash() -> None:
    info, _ = make_info(SAMPLE_FILES)
    canonical = encode(info)
    # Move "name" to the front: still valid for a lenient reader, no longer canonical.
    items = decode(canonical)
    assert isinstance(items, dict)
    name = encode(b"name") + encode(items.pop(b"name"))
    unsorted = b"d" + name + encode(items)[1:]
    data = b"d8:announce20:http://127.0.0.1:1/a4:info" + unsorted + b"e"
    torrent = parse_torrent(data)
    assert torrent.info_bytes == unsorted
    assert torrent.info_hash == hashlib.sha1(unsorted).digest() != hashlib.sha1(canonical).digest()
    assert torrent.to_bytes() == data
    assert parse_torrent(torrent.to_bytes()).info_hash == torrent.info_hash


def test_unknown_info_keys_survive_in_the_info_bytes() -> None:
    data = make_torrent(SAMPLE_FILES, **{"x-cross-seed": "abc", "similar": [b"1" * 20]})
    torrent = parse_torrent(data)
    assert b"12:x-cross-seed3:abc" in torrent.info_bytes
    assert parse_torrent(torrent.to_bytes()).info_hash == torrent.info_hash


def test_bep47_attributes_and_symlinks() -> None:
    info, _ = make_info(SAMPLE_FILES)
    info["files"][0]["attr"] = "xh"
    info["files"][1] = {"attr": "l", "path": ["empty"], "symlink path": ["sub", "b.txt"]}
    torrent = parse_torrent(encode({"info": info}))
    first, link = torrent.files[0], torrent.files[1]
    assert first.is_executable and first.is_hidden and not first.is_symlink and not first.is_pad
    assert link.is_symlink and link.length == 0
    assert link.symlink_path == ("content", "sub", "b.txt")


def test_file_entry_end() -> None:
    assert FileEntry(("a",), 10, 5).end == 15


def test_utf8_copies_of_name_and_path_win() -> None:
    info, _ = make_info(SAMPLE_FILES)
    info["name"] = b"\xe9t\xe9"  # Latin-1, not UTF-8
    info["name.utf-8"] = "été"
    info["files"][0]["path"] = [b"\xe0.bin"]
    info["files"][0]["path.utf-8"] = ["à.bin"]
    torrent = parse_torrent(encode({"info": info}))
    assert torrent.name == "été"
    assert torrent.files[0].path == ("été", "à.bin")


def test_pad_files_may_share_a_path_but_files_may_not() -> None:
    files = [(("a",), b"1" * 10), (("b",), b"2" * 10), (("c",), b"3")]
    info, _ = make_info(files, version="hybrid", piece_length=PL)
    assert [f["path"] for f in info["files"] if f.get("attr") == "p"] == [[".pad", "16374"]] * 2
    torrent = parse_torrent(encode({"info": info}))
    assert [e.offset for e in torrent.files if not e.is_pad] == [0, PL, 2 * PL]


def test_deep_paths_are_checked_in_linear_time() -> None:
    deep = tuple(f"d{i}" for i in range(20000))
    info, _ = make_info([((*deep, "x"), b"1"), ((*deep, "y"), b"2")])
    torrent = parse_torrent(encode({"info": info}))
    assert [len(e.path) for e in torrent.files] == [20002, 20002]


def test_hybrid_attributes_come_from_the_file_tree() -> None:
    info, layers = make_info(SAMPLE_FILES, version="hybrid", name="folder")
    info["files"][0]["attr"] = "x"  # a.bin: executable in v1 only
    info["file tree"]["sub"]["b.txt"][""]["attr"] = "h"  # b.txt: hidden in v2 only
    torrent = parse_torrent(encode({"info": info, "piece layers": layers}))
    flags = {e.path[-1]: (e.is_executable, e.is_hidden) for e in torrent.files if not e.is_pad}
    assert flags["a.bin"] == (False, False)
    assert flags["b.txt"] == (False, True)
