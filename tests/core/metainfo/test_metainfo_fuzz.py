"""Fuzzing parse_torrent: mutated valid torrents raise only TorrentError or BencodeError.

Two kinds of mutation: raw bytes (flips, cuts, insertions), which mostly test
the codec boundary, and structural ones (a value anywhere in the decoded
document replaced by another bencode value), which reach the field checks. A
torrent that survives must still be coherent: it re-parses to itself and
keeps its info-hash.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metainfo_builder import SAMPLE_FILES, make_torrent

from bitswarm.core.bencode import BencodeError, Value, decode, encode
from bitswarm.core.metainfo import TorrentError, parse_torrent
from bitswarm.core.metainfo.paths import unsafe_reason

SEEDS = [
    make_torrent(SAMPLE_FILES, version=version, outer={"announce": "http://127.0.0.1:1/a"})
    for version in ("v1", "v2", "hybrid")
] + [make_torrent([(("one",), b"z" * 20000)], version="hybrid", single=True)]

values: st.SearchStrategy[Any] = st.recursive(
    st.integers(-5, 1 << 40) | st.binary(max_size=40) | st.sampled_from([b"..", b"", b"p", b"l"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=12), inner),
    max_leaves=12,
)


def check_survivor(data: bytes) -> None:
    try:
        torrent = parse_torrent(data)
    except (TorrentError, BencodeError):
        return
    again = parse_torrent(torrent.to_bytes())
    assert again == torrent
    assert again.info_hash == torrent.info_hash
    for entry in torrent.files:
        assert not any(unsafe_reason(part) for part in entry.path)
        assert entry.length >= 0 and entry.offset >= 0
    assert torrent.piece_count * torrent.piece_length >= torrent.stream_size


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_byte_mutations(seed: bytes, data: st.DataObject) -> None:
    raw = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            del raw[at:]
        elif action == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del raw[at]
        if not raw:
            break
    check_survivor(bytes(raw))


def paths_of(value: Value, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a decoded document where a value can be replaced."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*prefix, index))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.data())
def test_structural_mutations(seed: bytes, data: st.DataObject) -> None:
    document = decode(seed)
    for _ in range(data.draw(st.integers(1, 3))):
        places = paths_of(document)
        if not places:
            break
        path = data.draw(st.sampled_from(places))
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(values)
    check_survivor(encode(document))
