"""``bitswarm verify``: exit 0 on good data, 1 on damage or missing files, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitswarm.core.metainfo import Torrent, parse_torrent
from cli.helpers import ALBUM, Run, assert_one_error_line


def _create(run: Run, version: str = "v1") -> Torrent:
    result = run("create", "album", f"--{version}", "--piece-size", "16KiB")
    assert result.exit_code == 0, result.output
    return parse_torrent(Path("album.torrent").read_bytes())


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("data_path", [".", "album"])
def test_good_data_exits_0(album: Path, run: Run, data_path: str) -> None:
    torrent = _create(run)
    result = run("verify", "album.torrent", data_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sum(line.startswith("complete ") for line in lines) == len(ALBUM)
    assert lines[-1] == f"{torrent.piece_count} pieces: {torrent.piece_count} good, 0 bad, " + (
        "0 missing: all good"
    )
    assert result.stderr.splitlines()[-1].startswith("verifying: 100% ")


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_a_flipped_byte_exits_1_and_names_the_piece(album: Path, run: Run, version: str) -> None:
    torrent = _create(run, version)
    two = next(f for f in torrent.files if f.path[-1] == "two.bin")
    _flip(album / "two.bin", 20_000)
    expected_piece = (two.offset + 20_000) // torrent.piece_length
    result = run("verify", "album.torrent", ".", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["bad_pieces"] == [expected_piece]
    assert report["pieces"] == {
        "total": torrent.piece_count,
        "good": torrent.piece_count - 1,
        "bad": 1,
        "missing": 0,
    }
    status = {f["path"]: f["status"] for f in report["files"]}
    assert status["album/two.bin"] == "damaged"
    assert status["album/notes/three.txt"] == "complete"
    text = run("verify", "album.torrent", ".")
    assert text.exit_code == 1
    assert f"album/two.bin  (bad pieces {expected_piece})" in text.stdout
    assert text.stdout.splitlines()[-1].endswith(": damaged")


def test_missing_and_short_files(album: Path, run: Run) -> None:
    _create(run)
    (album / "notes" / "three.txt").unlink()
    with open(album / "one.bin", "r+b") as file:
        file.truncate(50_000)
    result = run("verify", "album.torrent", "album", "--json")
    assert result.exit_code == 1
    files = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert files["album/notes/three.txt"]["status"] == "missing"
    assert files["album/notes/three.txt"]["size_on_disk"] is None
    assert files["album/one.bin"]["status"] == "wrong size"
    assert files["album/one.bin"]["size_on_disk"] == 50_000


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["album.torrent", "no-such-folder"], "no such folder: no-such-folder"),
        (["album/one.bin", "."], "album/one.bin: not a valid torrent"),
        (["missing.torrent", "."], "cannot read missing.torrent"),
        (["album.torrent"], "Missing argument 'DATA_PATH'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    album: Path, run: Run, args: list[str], fragment: str
) -> None:
    _create(run)
    assert_one_error_line(run("verify", *args), fragment)
