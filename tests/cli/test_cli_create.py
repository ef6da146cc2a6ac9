"""``bitswarm create``: formats, tiers, fields, progress lines and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import libtorrent as lt
import pytest

from bitswarm.core.magnet import Magnet
from bitswarm.core.metainfo import parse_torrent
from cli.helpers import ALBUM, Run, assert_one_error_line

TRACKER_A = "http://127.0.0.1:6969/announce"
TRACKER_B = "udp://127.0.0.1:6969"
TRACKER_C = "http://[::1]:6969/announce"
SEED = "http://127.0.0.1:8000/files/"


def test_default_is_v1_with_tiers_and_every_field(album: Path, run: Run) -> None:
    result = run(
        "create", "album",
        "-t", f"{TRACKER_A},{TRACKER_B}", "-t", TRACKER_C,
        "--web-seed", SEED, "--private", "--piece-size", "16KiB",
        "--comment", "a comment", "--source", "a source",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    torrent = parse_torrent((album.parent / "album.torrent").read_bytes())
    assert torrent.version == "v1"
    assert torrent.trackers == ((TRACKER_A, TRACKER_B), (TRACKER_C,))
    assert torrent.web_seeds == (SEED,)
    assert torrent.private
    assert (torrent.comment, torrent.source) == ("a comment", "a source")
    assert torrent.piece_length == 16 * 1024
    assert sorted("/".join(f.path[1:]) for f in torrent.files) == sorted(ALBUM)
    assert torrent.total_size == sum(ALBUM.values())
    assert torrent.info_hash_v1 is not None
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created album.torrent: v1,")
    assert f"info-hash v1: {torrent.info_hash_v1.hex()}" in lines
    assert lines[-1] == f"magnet: {Magnet.from_torrent(torrent).to_uri()}"


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_libtorrent_reads_the_same_info_hashes(album: Path, run: Run, version: str) -> None:
    result = run("create", "album", f"--{version}", "-o", "out.torrent")
    assert result.exit_code == 0, result.output
    data = (album.parent / "out.torrent").read_bytes()
    torrent = parse_torrent(data)
    assert torrent.version == version
    hashes = lt.torrent_info(lt.bdecode(data)).info_hashes()
    if torrent.info_hash_v1 is not None:
        assert hashes.v1.to_bytes() == torrent.info_hash_v1
    else:
        assert hashes.v1.is_all_zeros()
    if torrent.info_hash_v2 is not None:
        assert hashes.v2.to_bytes() == torrent.info_hash_v2
    else:
        assert hashes.v2.is_all_zeros()


def test_progress_is_plain_lines_off_a_terminal(album: Path, run: Run) -> None:
    result = run("create", "album")
    progress = result.stderr.splitlines()
    assert progress, "no progress shown"
    assert all(line.startswith("hashing: ") for line in progress)
    assert len(progress) <= 11
    assert progress[-1].startswith("hashing: 100% ")


def test_a_single_file_and_the_default_output_name(album: Path, run: Run) -> None:
    assert run("create", "album/one.bin").exit_code == 0
    torrent = parse_torrent((album.parent / "one.bin.torrent").read_bytes())
    assert torrent.name == "one.bin"
    assert [f.path for f in torrent.files] == [("one.bin",)]


def test_refuses_to_replace_a_file_unless_forced(album: Path, run: Run) -> None:
    target = album.parent / "album.torrent"
    target.write_bytes(b"keep me")
    assert_one_error_line(run("create", "album"), "album.torrent exists; use --force")
    assert target.read_bytes() == b"keep me"
    assert run("create", "album", "--force").exit_code == 0
    assert parse_torrent(target.read_bytes()).name == "album"


def test_symbolic_links_are_reported_and_left_out(album: Path, run: Run) -> None:
    (album / "link.bin").symlink_to(album / "one.bin")
    result = run("create", "album")
    assert result.exit_code == 0
    assert any(
        line.startswith("skipped ") and "link.bin" in line for line in result.stderr.splitlines()
    )
    torrent = parse_torrent((album.parent / "album.torrent").read_bytes())
    assert all(f.path[-1] != "link.bin" for f in torrent.files)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["missing"], "missing: cannot stat"),
        (["album", "--piece-size", "big"], "Invalid value for '--piece-size': not a size: 'big'"),
        (["album", "--piece-size", "1000"], "piece length 1000 is outside"),
        (["album", "--hybrid", "--piece-size", "48KiB"], "must be a power of two"),
        (["album", "-t", "tracker.example"], "--tracker: not a URL"),
        (["album", "-t", f"{TRACKER_A},"], "--tracker: not a URL"),
        (["album", "--web-seed", "udp://127.0.0.1/"], "--web-seed: not a URL"),
        (["album/empty"], "at least one byte"),
        ([], "Missing argument 'PATH'"),
        (["album", "--v1", "--v2"], "--v1 and --v2 conflict: choose one torrent format"),
        (["album", "--hybrid", "--v2"], "--v2 and --hybrid conflict"),
        (["album", "--v1", "--v2", "--hybrid"], "--v1 and --v2 and --hybrid conflict"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    album: Path, run: Run, args: list[str], fragment: str
) -> None:
    (album / "empty").touch()
    assert_one_error_line(run("create", *args), fragment)
    assert not (album.parent / "album.torrent").exists()
