"""Every malformed field raises TorrentError naming the key and the fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from metainfo_builder import SAMPLE_FILES, make_info

from bitswarm.core.bencode import BencodeError, encode
from bitswarm.core.metainfo import TorrentError, parse_torrent

Doc = dict[str, Any]
PL = 16384


def document(version: str) -> Doc:
    info, layers = make_info(SAMPLE_FILES, version=version, name="folder")
    doc: Doc = {"info": info, "announce": "http://127.0.0.1:1/a"}
    if layers:
        doc["piece layers"] = layers
    return doc


def error_of(doc: Doc) -> TorrentError:
    with pytest.raises(TorrentError) as caught:
        parse_torrent(encode(doc))
    return caught.value


def tree_leaf(doc: Doc, *path: str) -> dict[str, Any]:
    node = doc["info"]["file tree"]
    for part in path:
        node = node[part]
    leaf: dict[str, Any] = node[""]
    return leaf


def first_layer(doc: Doc) -> bytes:
    return next(iter(doc["piece layers"]))  # type: ignore[no-any-return]


V1_CASES: list[tuple[Callable[[Doc], object], str, str]] = [
    (lambda d: d.pop("info"), "info", "missing"),
    (lambda d: d.__setitem__("info", [1]), "info", "expected a dictionary, got a list"),
    (lambda d: d["info"].pop("name"), "info.name", "missing"),
    (lambda d: d["info"].__setitem__("name", 7), "info.name", "expected a byte string"),
    (lambda d: d["info"].__setitem__("name", b"\xff"), "info.name", "not valid UTF-8 at byte 0"),
    (lambda d: d["info"].__setitem__("name", ".."), "info.name", "would leave its folder"),
    (lambda d: d["info"].pop("piece length"), "info.piece length", "missing"),
    (lambda d: d["info"].__setitem__("piece length", 0), "info.piece length", "below the minimum"),
    (lambda d: d["info"].__setitem__("pieces", b"x" * 19), "info.pieces", "not a multiple of 20"),
    (lambda d: d["info"].__setitem__("pieces", b"x" * 20), "info.pieces", "1 hashes, but 67595"),
    (lambda d: d["info"].__setitem__("private", 2), "info.private", "must be 0 or 1, not 2"),
    (lambda d: d["info"].__setitem__("source", 1), "info.source", "expected a byte string"),
    (lambda d: d["info"].__setitem__("length", 5), "info", "both 'length' and 'files'"),
    (lambda d: d["info"].pop("files"), "info", "neither 'length' nor 'files'"),
    (lambda d: d["info"].__setitem__("files", []), "info.files", "empty list"),
    (lambda d: d["info"]["files"][1].pop("length"), "info.files[1].length", "missing"),
    (lambda d: d["info"]["files"][1].__setitem__("length", -1), "info.files[1].length", "below"),
    (lambda d: d["info"]["files"][2].__setitem__("path", []), "info.files[2].path", "empty path"),
    (
        lambda d: d["info"]["files"][2].__setitem__("path", ["sub", "../x"]),
        "info.files[2].path[1]",
        "path separator",
    ),
    (
        lambda d: d["info"]["files"][2].__setitem__("path", ["sub", 3]),
        "info.files[2].path[1]",
        "expected a byte string, got an integer",
    ),
    (
        lambda d: d["info"]["files"][0].__setitem__("attr", "l"),
        "info.files[0].symlink path",
        "missing",
    ),
    (
        lambda d: d["info"]["files"][0].update(attr="l", **{"symlink path": ["a.bin"]}),
        "info.files[0].length",
        "a symlink has length 0, not 51200",
    ),
    (
        lambda d: d["info"]["files"][1].update(attr="l", **{"symlink path": ["..", "etc"]}),
        "info.files[1].symlink path[0]",
        "would leave its folder",
    ),
    (
        lambda d: d["info"]["files"][3].__setitem__("path", ["sub", "b.txt"]),
        "info.files[3]",
        "folder/sub/b.txt is listed before",
    ),
    (
        lambda d: d["info"]["files"][2].__setitem__("path", ["a.bin", "x"]),
        "info.files[2]",
        "folder/a.bin is a file listed before, not a folder",
    ),
    (
        lambda d: d["info"]["files"][3].__setitem__("path", ["sub"]),
        "info.files[3]",
        "folder/sub is listed before",
    ),
    (
        lambda d: d["info"]["files"][3].__setitem__("path.utf-8", ["sub", "\\"]),
        "info.files[3].path.utf-8[1]",
        "path separator",
    ),
    (lambda d: d.__setitem__("announce", 1), "announce", "expected a byte string"),
    (lambda d: d.__setitem__("announce-list", "x"), "announce-list", "expected a list"),
    (lambda d: d.__setitem__("announce-list", [[1]]), "announce-list[0][0]", "expected a byte"),
    (lambda d: d.__setitem__("announce-list", ["x"]), "announce-list[0]", "expected a list"),
    (lambda d: d.__setitem__("url-list", [b"\xc3"]), "url-list[0]", "not valid UTF-8"),
    (lambda d: d.__setitem__("url-list", 3), "url-list", "expected a list, got an integer"),
    (lambda d: d.__setitem__("comment", [1]), "comment", "expected a byte string, got a list"),
    (lambda d: d.__setitem__("creation date", "x"), "creation date", "expected an integer"),
    (lambda d: d.__setitem__("piece layers", {}), "piece layers", "without 'meta version' 2"),
    (
        lambda d: d["info"].__setitem__("file tree", {}),
        "info.file tree",
        "present without 'meta version' 2",
    ),
]


V2_CASES: list[tuple[Callable[[Doc], object], str, str]] = [
    (lambda d: d["info"].__setitem__("meta version", 3), "info.meta version", "version 3"),
    (lambda d: d["info"].pop("file tree"), "info.file tree", "missing"),
    (lambda d: d["info"].__setitem__("piece length", 8192), "info.piece length", "power of two"),
    (lambda d: d["info"].__setitem__("piece length", 49152), "info.piece length", "power of two"),
    (lambda d: d["info"].__setitem__("file tree", {}), "info.file tree", "empty directory"),
    (
        lambda d: d["info"]["file tree"].__setitem__("", {"length": 1}),
        "info.file tree",
        "root of the tree is a file",
    ),
    (
        lambda d: d["info"]["file tree"]["sub"].__setitem__("", {"length": 1}),
        "info.file tree.sub",
        "a file entry with other names beside it",
    ),
    (
        lambda d: d["info"]["file tree"]["a.bin"].__setitem__("x", {}),
        "info.file tree.a.bin",
        "a file entry with other names beside it",
    ),
    (
        lambda d: d["info"]["file tree"].__setitem__("dir", {}),
        "info.file tree.dir",
        "empty directory",
    ),
    (
        lambda d: d["info"]["file tree"].__setitem__("CON.txt", {"": {"length": 0}}),
        "info.file tree.CON.txt",
        "Windows reserved device name",
    ),
    (
        lambda d: d["info"]["file tree"].__setitem__(b"\xfe", {"": {"length": 0}}),
        "info.file tree.\\xfe",
        "not valid UTF-8",
    ),
    (
        lambda d: tree_leaf(d, "a.bin").pop("pieces root"),
        "info.file tree.a.bin..pieces root",
        "missing for a non-empty file",
    ),
    (
        lambda d: tree_leaf(d, "empty").__setitem__("pieces root", b"r" * 32),
        "info.file tree.empty..pieces root",
        "given for an empty file",
    ),
    (
        lambda d: tree_leaf(d, "sub", "b.txt").__setitem__("pieces root", b"r" * 31),
        "info.file tree.sub.b.txt..pieces root",
        "expected 32 bytes, got 31",
    ),
    (
        lambda d: tree_leaf(d, "sub", "b.txt").__setitem__("attr", "p"),
        "info.file tree.sub.b.txt..attr",
        "a pad file in the tree",
    ),
    (lambda d: d.pop("piece layers"), "piece layers", "missing the layer of folder/a.bin"),
    (lambda d: d.__setitem__("piece layers", []), "piece layers", "expected a dictionary"),
    (
        lambda d: d["piece layers"].__setitem__(b"z" * 32, b""),
        "piece layers[" + "7a" * 32 + "]",
        "no file longer than one piece has this pieces root",
    ),
    (
        lambda d: d["piece layers"].__setitem__(first_layer(d), b"h" * 96),
        "piece layers[{root}]",
        "96 bytes, but folder/a.bin (51200 bytes) needs 4 hashes",
    ),
    (
        lambda d: d["piece layers"].__setitem__(first_layer(d), b"h" * 128),
        "piece layers[{root}]",
        "hashes do not add up to the pieces root of folder/a.bin",
    ),
]


HYBRID_CASES: list[tuple[Callable[[Doc], object], str, str]] = [
    (lambda d: d["info"]["files"].pop(2), "info.files", "3 files besides padding, but the file"),
    (
        lambda d: d["info"]["files"][1].__setitem__("attr", ""),
        "info.files",
        "5 files besides padding, but the file tree has 4",
    ),
    (
        lambda d: d["info"]["files"][3].__setitem__("path", ["sub", "B.txt"]),
        "info.files[3]",
        "folder/sub/B.txt (11 bytes) differs from the file tree's folder/sub/b.txt (11 bytes)",
    ),
    (
        lambda d: d["info"]["files"].pop(4),
        "info.files[4]",
        "starts at byte 65547 of the v1 stream, not on its piece boundary 81920",
    ),
    (
        lambda d: d["info"]["files"][1].__setitem__("length", 14336 + PL),
        "info.files[3]",
        "starts at byte 81920 of the v1 stream, not on its piece boundary 65536",
    ),
    (
        lambda d: d["info"]["files"].append({"attr": "p", "length": PL, "path": [".pad", "x"]}),
        "info.files",
        "padding makes 7 v1 pieces, but the file tree has 6",
    ),
]


CASES = (
    [("v1", *case) for case in V1_CASES]
    + [("v2", *case) for case in V2_CASES]
    + [("hybrid", *case) for case in HYBRID_CASES]
)


@pytest.mark.parametrize(("version", "mutate", "where", "reason"), CASES)
def test_malformed_field(
    version: str, mutate: Callable[[Doc], object], where: str, reason: str
) -> None:
    doc = document(version)
    root = first_layer(doc) if version != "v1" else b""
    mutate(doc)
    if version == "hybrid":
        # Keep one v1 hash per piece, so that the v1/v2 agreement is what fails.
        stream = sum(entry["length"] for entry in doc["info"]["files"])
        doc["info"]["pieces"] = b"p" * 20 * -(-stream // PL)
    error = error_of(doc)
    assert error.where == where.format(root=root.hex())
    assert reason in error.reason
    assert str(error) == f"torrent: {error.where}: {error.reason}"


def test_not_bencode_raises_bencode_error() -> None:
    with pytest.raises(BencodeError):
        parse_torrent(b"d4:infod")
    with pytest.raises(BencodeError):
        parse_torrent(b"l4:infoe")


def test_torrent_error_is_a_value_error() -> None:
    assert issubclass(TorrentError, ValueError)
    assert str(TorrentError("", "empty")) == "torrent: empty"
