"""Creating torrents from disk and verifying data against them, v1, v2 and hybrid."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from bitswarm.core.metainfo import Torrent, Version, parse_torrent
from bitswarm.core.metainfo.hashing import v1_piece_hashes
from bitswarm.storage import hashing
from bitswarm.storage.create import create_torrent
from bitswarm.storage.errors import StorageError
from bitswarm.storage.hashing import Source, hash_pieces
from bitswarm.storage.verify import FileStatus, PieceStatus, VerifyReport, verify
from torrent_content import FOLDER, KIB, PIECE, flip_byte, make_files

VERSIONS: list[Version] = ["v1", "v2", "hybrid"]


@pytest.fixture(autouse=True)
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of two pieces, so that even small test files take several jobs."""
    monkeypatch.setattr(hashing, "RUN_BYTES", 2 * PIECE)


def file_report(report: VerifyReport, *path: str) -> tuple[FileStatus, tuple[int, ...]]:
    found = next(f for f in report.files if f.path == path)
    return found.status, found.bad_pieces


def piece_of(torrent: Torrent, path: tuple[str, ...], offset: int) -> int:
    entry = next(e for e in torrent.files if e.path == path)
    return (entry.offset + offset) // torrent.piece_length


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_files(tmp_path / "data" / "top", FOLDER)


@pytest.mark.parametrize("version", VERSIONS)
def test_folder_round_trip(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE, creation_date=None)
    again = parse_torrent(torrent.to_bytes())
    assert again.info_hash_v1 == torrent.info_hash_v1
    assert again.info_hash_v2 == torrent.info_hash_v2
    assert torrent.version == version
    assert torrent.total_size == sum(FOLDER.values())
    paths = [e.path for e in again.files if not e.is_pad]
    assert paths == [("top", *name.split("/")) for name in sorted(FOLDER)]
    report = verify(again, folder.parent)
    assert report.ok
    assert report.count(PieceStatus.GOOD) == again.piece_count
    assert {f.status for f in report.files} == {FileStatus.COMPLETE}
    assert not (folder / ".pad").exists()  # pad files are never needed on disk


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("size", [1, PIECE - 1, PIECE, 5 * PIECE + 3])
def test_single_file_round_trip(tmp_path: Path, version: Version, size: int) -> None:
    make_files(tmp_path, {"one.iso": size})
    torrent = create_torrent(tmp_path / "one.iso", version=version, piece_length=PIECE)
    assert [e.path for e in torrent.files] == [("one.iso",)]
    assert torrent.piece_count == -(-size // PIECE)
    if version != "v2":
        data = (tmp_path / "one.iso").read_bytes()
        assert torrent.pieces == b"".join(v1_piece_hashes(data, PIECE))
    assert verify(parse_torrent(torrent.to_bytes()), tmp_path).ok


@pytest.mark.parametrize("version", VERSIONS)
def test_flipped_byte_is_found_in_its_piece_and_file(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE)
    flip_byte(folder / "d" / "long", 4 * PIECE + 17)
    report = verify(torrent, folder.parent)
    expected = piece_of(torrent, ("top", "d", "long"), 4 * PIECE + 17)
    assert report.bad_pieces == (expected,)
    assert not report.ok
    assert file_report(report, "top", "d", "long") == (FileStatus.DAMAGED, (expected,))
    others = {f.status for f in report.files if f.path != ("top", "d", "long")}
    assert others == {FileStatus.COMPLETE}


@pytest.mark.parametrize("version", VERSIONS)
def test_flip_in_a_small_file(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE)
    flip_byte(folder / "b" / "small", 99)
    report = verify(torrent, folder.parent)
    expected = piece_of(torrent, ("top", "b", "small"), 99)
    assert report.bad_pieces == (expected,)
    assert file_report(report, "top", "b", "small") == (FileStatus.DAMAGED, (expected,))


def test_v1_piece_spanning_files_blames_both(folder: Path) -> None:
    torrent = create_torrent(folder, version="v1", piece_length=PIECE)
    # a.bin ends 123 bytes into piece 3, which then holds b/small and b/zz.
    flip_byte(folder / "a.bin", 3 * PIECE + 5)
    report = verify(torrent, folder.parent)
    assert report.bad_pieces == (3,)
    assert file_report(report, "top", "a.bin") == (FileStatus.DAMAGED, (3,))
    assert file_report(report, "top", "b", "small") == (FileStatus.DAMAGED, (3,))
    assert file_report(report, "top", "c")[0] is FileStatus.COMPLETE


@pytest.mark.parametrize("version", VERSIONS)
def test_missing_file_is_reported(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE)
    (folder / "d" / "long").unlink()
    report = verify(torrent, folder.parent)
    entry = next(e for e in torrent.files if e.path == ("top", "d", "long"))
    pieces = range(entry.offset // PIECE, -(-entry.end // PIECE))
    assert file_report(report, "top", "d", "long") == (FileStatus.MISSING, ())
    assert [i for i, p in enumerate(report.pieces) if p is PieceStatus.MISSING] == list(pieces)
    assert report.bad_pieces == ()
    missing = next(f for f in report.files if f.path == ("top", "d", "long"))
    assert missing.size_on_disk is None


def test_missing_neighbour_leaves_v1_file_incomplete(folder: Path) -> None:
    torrent = create_torrent(folder, version="v1", piece_length=PIECE)
    (folder / "b" / "small").unlink()
    report = verify(torrent, folder.parent)
    # Piece 3 holds the end of a.bin, b/small and the start of b/zz.
    assert report.pieces[3] is PieceStatus.MISSING
    assert file_report(report, "top", "a.bin") == (FileStatus.INCOMPLETE, ())
    assert file_report(report, "top", "b", "small") == (FileStatus.MISSING, ())
    assert file_report(report, "top", "b", "empty")[0] is FileStatus.COMPLETE


@pytest.mark.parametrize("version", VERSIONS)
def test_truncated_file_is_wrong_size_with_its_tail_missing(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE)
    os.truncate(folder / "d" / "long", 5 * PIECE + 1)
    report = verify(torrent, folder.parent)
    entry = next(e for e in torrent.files if e.path == ("top", "d", "long"))
    cut = entry.offset + 5 * PIECE + 1
    pieces = range(entry.offset // PIECE, -(-entry.end // PIECE))
    expected = [PieceStatus.GOOD if (p + 1) * PIECE <= cut else PieceStatus.MISSING for p in pieces]
    assert [report.pieces[p] for p in pieces] == expected
    assert expected.count(PieceStatus.MISSING) >= 5
    long = next(f for f in report.files if f.path == ("top", "d", "long"))
    assert (long.status, long.size_on_disk) == (FileStatus.WRONG_SIZE, 5 * PIECE + 1)


@pytest.mark.parametrize("version", VERSIONS)
def test_longer_file_is_wrong_size_but_its_pieces_are_good(folder: Path, version: Version) -> None:
    torrent = create_torrent(folder, version=version, piece_length=PIECE)
    with (folder / "c").open("ab") as handle:
        handle.write(b"extra")
    report = verify(torrent, folder.parent)
    assert report.ok
    assert file_report(report, "top", "c") == (FileStatus.WRONG_SIZE, ())


def test_v2_without_piece_layers_cannot_be_checked(folder: Path) -> None:
    torrent = create_torrent(folder, version="v2", piece_length=PIECE)
    bare = dataclasses.replace(torrent, piece_layers={})
    with pytest.raises(ValueError, match="lacks piece layers"):
        verify(bare, folder.parent)


def test_hybrid_without_piece_layers_is_checked_by_v1(folder: Path) -> None:
    torrent = create_torrent(folder, version="hybrid", piece_length=PIECE)
    flip_byte(folder / "c", 10)
    report = verify(dataclasses.replace(torrent, piece_layers={}), folder.parent)
    assert report.bad_pieces == (piece_of(torrent, ("top", "c"), 10),)


def test_progress_counts_content_bytes_up_to_the_total(folder: Path) -> None:
    calls: list[tuple[int, int]] = []
    torrent = create_torrent(
        folder, piece_length=PIECE, progress=lambda done, total: calls.append((done, total))
    )
    total = sum(FOLDER.values())
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) > 5
    seen: list[tuple[int, int]] = []
    verify(torrent, folder.parent, lambda done, total: seen.append((done, total)))
    assert seen[-1] == (total, total)


def test_one_worker_gives_the_same_torrent(folder: Path) -> None:
    one = create_torrent(folder, piece_length=PIECE, creation_date=None, workers=1)
    many = create_torrent(folder, piece_length=PIECE, creation_date=None, workers=3)
    assert one.to_bytes() == many.to_bytes()


def test_outer_fields_and_private_flag(folder: Path) -> None:
    torrent = create_torrent(
        folder,
        piece_length=PIECE,
        trackers=["http://127.0.0.1:1/announce", ["udp://127.0.0.1:2", "udp://127.0.0.1:3"]],
        web_seeds=["http://127.0.0.1:4/files/"],
        private=True,
        comment="a comment",
        source="SRC",
        created_by="tester",
        creation_date=1_700_000_000,
    )
    again = parse_torrent(torrent.to_bytes())
    assert again.trackers == (
        ("http://127.0.0.1:1/announce",),
        ("udp://127.0.0.1:2", "udp://127.0.0.1:3"),
    )
    assert again.web_seeds == ("http://127.0.0.1:4/files/",)
    assert (again.private, again.source, again.comment) == (True, "SRC", "a comment")
    assert (again.created_by, again.creation_date) == ("tester", 1_700_000_000)
    public = create_torrent(folder, piece_length=PIECE)
    assert public.info_hash_v1 != torrent.info_hash_v1  # private and source are in the info
    assert public.created_by is not None and public.created_by.startswith("bitswarm/")
    assert public.creation_date is not None


def test_same_content_same_bytes_without_a_date(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "top"
    shutil.copytree(folder, copy)
    first = create_torrent(folder, piece_length=PIECE, creation_date=None)
    second = create_torrent(copy, piece_length=PIECE, creation_date=None)
    assert first.to_bytes() == second.to_bytes()
    assert b"creation date" not in first.to_bytes()


def test_automatic_piece_length(folder: Path) -> None:
    assert create_torrent(folder).piece_length == 16 * KIB


@pytest.mark.parametrize("piece_length", [PIECE + 16 * KIB, 8 * KIB])
def test_unusable_piece_length_is_refused(folder: Path, piece_length: int) -> None:
    with pytest.raises(ValueError, match="piece length"):
        create_torrent(folder, version="hybrid", piece_length=piece_length)


def test_content_without_bytes_is_refused(tmp_path: Path) -> None:
    make_files(tmp_path / "d", {"a": 0, "b": 0})
    with pytest.raises(ValueError, match="at least one byte"):
        create_torrent(tmp_path / "d")


def test_skipped_entries_are_reported(folder: Path) -> None:
    (folder / "link").symlink_to(folder / "c")
    skipped: list[str] = []
    create_torrent(folder, piece_length=PIECE, on_skip=lambda s: skipped.append(s.disk_path.name))
    assert skipped == ["link"]


def test_file_that_shrinks_while_hashing_is_an_error(tmp_path: Path) -> None:
    make_files(tmp_path, {"f": 1000})
    torrent = create_torrent(tmp_path / "f", version="v1", piece_length=PIECE)
    lying = [Source(tmp_path / "f", 2000)]
    files = [dataclasses.replace(torrent.files[0], length=2000)]
    with pytest.raises(StorageError, match="shrank"):
        list(hash_pieces(files, PIECE, lying, v1=True, v2=False))


def test_folder_holding_one_file(tmp_path: Path) -> None:
    make_files(tmp_path / "top", {"a": 1000})
    for version in ("v1", "hybrid"):
        torrent = create_torrent(tmp_path / "top", version=version, piece_length=PIECE)
        assert [e.path for e in torrent.files] == [("top", "a")]
        assert verify(torrent, tmp_path).ok
    # In v2 that is a tree with one file at its root, which BEP 52 readers
    # (libtorrent included) take for a single-file torrent of that file.
    v2 = create_torrent(tmp_path / "top", version="v2", piece_length=PIECE)
    assert (v2.name, [e.path for e in v2.files]) == ("top", [("a",)])
    assert verify(v2, tmp_path / "top").ok
