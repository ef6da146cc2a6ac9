"""``bitswarm info`` and ``bitswarm magnet``: the record, its JSON keys, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import libtorrent as lt
import pytest

from bitswarm.core.magnet import Magnet
from bitswarm.core.metainfo import Torrent, parse_torrent
from cli.helpers import ALBUM, Run, assert_one_error_line

TIER_1 = ("http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969")
TIER_2 = ("http://[::1]:6969/announce",)
SEED = "http://127.0.0.1:8000/"


def _create(run: Run, *options: str) -> Torrent:
    trackers = ["-t", ",".join(TIER_1), "-t", ",".join(TIER_2), "--web-seed", SEED]
    result = run("create", "album", "-o", "album.torrent", *trackers, *options)
    assert result.exit_code == 0, result.output
    return parse_torrent(Path("album.torrent").read_bytes())


@pytest.mark.parametrize("version", ["v1", "hybrid", "v2"])
def test_json_matches_the_model(album: Path, run: Run, version: str) -> None:
    torrent = _create(run, f"--{version}", "--comment", "hello", "--private")
    result = run("info", "album.torrent", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    v1, v2 = torrent.info_hash_v1, torrent.info_hash_v2
    assert record["kind"] == "torrent"
    assert record["name"] == "album"
    assert record["version"] == version
    assert record["info_hash_v1"] == (v1.hex() if v1 else None)
    assert record["info_hash_v2"] == (v2.hex() if v2 else None)
    assert (v1 is None, v2 is None) == (version == "v2", version == "v1")
    assert record["piece_length"] == torrent.piece_length
    assert record["piece_count"] == torrent.piece_count
    assert record["total_size"] == sum(ALBUM.values())
    assert sorted(f["path"] for f in record["files"]) == sorted(f"album/{n}" for n in ALBUM)
    assert {f["path"]: f["length"] for f in record["files"]} == {
        f"album/{name}": size for name, size in ALBUM.items()
    }
    assert record["trackers"] == [list(TIER_1), list(TIER_2)]
    assert record["web_seeds"] == [SEED]
    assert record["private"] is True
    assert record["comment"] == "hello"
    assert record["created_by"].startswith("bitswarm/")
    assert isinstance(record["creation_date"], int)
    assert record["magnet"] == Magnet.from_torrent(torrent).to_uri()


def test_plain_text_off_a_terminal(album: Path, run: Run) -> None:
    torrent = _create(run)
    lines = run("info", "album.torrent").stdout.splitlines()
    assert "name: album" in lines
    assert "version: v1" in lines
    assert f"pieces: {torrent.piece_count:,}" in lines
    assert f"tracker tier 1: {', '.join(TIER_1)}" in lines
    assert f"tracker tier 2: {TIER_2[0]}" in lines
    assert "info-hash v2: -" in lines
    assert f"files: {len(ALBUM)}" in lines
    assert any(line.endswith("  album/notes/three.txt") for line in lines)


def test_control_characters_from_the_file_are_escaped(album: Path, run: Run) -> None:
    torrent = _create(run).with_comment("evil\x1b[2Jcomment\x07")
    Path("evil.torrent").write_bytes(torrent.to_bytes())
    output = run("info", "evil.torrent").stdout
    assert "comment: evil\\x1b[2Jcomment\\x07" in output.splitlines()
    assert "\x1b" not in output and "\x07" not in output


def test_a_magnet_link(run: Run) -> None:
    v1, v2 = "ab" * 20, "cd" * 32
    link = (
        f"magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}&dn=Some+Name&xl=1234"
        "&tr=http://127.0.0.1:1/a&tr=udp://127.0.0.1:2&x.pe=[::1]:6881&so=0,2-4"
    )
    result = run("info", link, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["kind"] == "magnet"
    assert (record["info_hash_v1"], record["info_hash_v2"]) == (v1, v2)
    assert record["version"] == "hybrid"
    assert record["name"] == "Some Name"
    assert record["total_size"] == 1234
    assert record["trackers"] == [["http://127.0.0.1:1/a"], ["udp://127.0.0.1:2"]]
    assert record["peers"] == ["[::1]:6881"]
    assert record["select_only"] == "0,2-4"
    assert record["files"] is None and record["piece_length"] is None
    text = run("info", link).stdout.splitlines()
    assert "select only: 0,2-4" in text
    assert "size: 1.21 KiB (1,234 bytes)" in text


def test_magnet_command_is_read_the_same_by_libtorrent(album: Path, run: Run) -> None:
    torrent = _create(run, "--hybrid")
    result = run("magnet", "album.torrent")
    assert result.exit_code == 0
    link = result.stdout.strip()
    assert result.stdout == link + "\n"
    assert link == Magnet.from_torrent(torrent).to_uri()
    params = lt.parse_magnet_uri(link)
    assert params.info_hashes.v1.to_bytes() == torrent.info_hash_v1
    assert params.info_hashes.v2.to_bytes() == torrent.info_hash_v2
    assert params.name == "album"
    assert list(params.trackers) == [*TIER_1, *TIER_2]
    assert list(params.url_seeds) == [SEED]


@pytest.mark.parametrize(
    ("command", "target", "fragment"),
    [
        ("info", "nothing-here", "no such torrent file or magnet link: nothing-here"),
        ("info", "album", "cannot read album: Is a directory"),
        ("info", "album/one.bin", "album/one.bin: not a valid torrent: bencode:"),
        ("info", "truncated.torrent", "truncated.torrent: not a valid torrent: bencode: trunc"),
        ("info", "no-info.torrent", "no-info.torrent: not a valid torrent: torrent: info: missing"),
        ("info", "magnet:?xt=urn:btih:1234", "magnet link: xt: urn:btih takes 40 hex"),
        ("info", "magnet:?dn=x", "magnet link: xt: no urn:btih or urn:btmh"),
        ("magnet", "truncated.torrent", "truncated.torrent: not a valid torrent"),
        ("magnet", "nothing-here", "cannot read nothing-here: No such file or directory"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    album: Path, run: Run, command: str, target: str, fragment: str
) -> None:
    _create(run)
    Path("truncated.torrent").write_bytes(Path("album.torrent").read_bytes()[:-30])
    Path("no-info.torrent").write_bytes(b"d8:announce3:urle")
    assert_one_error_line(run(command, target), fragment)
