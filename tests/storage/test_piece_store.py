"""PieceStore: blocks to file ranges on disk, sparse files, pad files, piece checks, errors."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.layout import LayoutError
from bitswarm.core.metainfo import Torrent, Version
from bitswarm.storage import piece_store
from bitswarm.storage.create import create_torrent
from bitswarm.storage.errors import StorageError
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.verify import verify
from torrent_content import FOLDER, KIB, PIECE, flip_byte, make_files

BLOCK = 16 * KIB
VERSIONS: list[Version] = ["v1", "v2", "hybrid"]


def make_torrent(tmp_path: Path, version: Version, files: dict[str, int] = FOLDER) -> Torrent:
    make_files(tmp_path / "seed" / "top", files)
    return create_torrent(
        tmp_path / "seed" / "top", version=version, piece_length=PIECE, creation_date=None
    )


def stream(torrent: Torrent, root: Path) -> bytes:
    """The piece space read straight from the seed's files, pad files as zeros."""
    parts = []
    for entry in torrent.files:
        if entry.is_pad:
            parts.append(bytes(entry.length))
        elif entry.length:
            parts.append(root.joinpath(*entry.path).read_bytes())
        if torrent.version == "v2" and entry.length:  # files start on piece boundaries
            parts.append(bytes(-entry.length % torrent.piece_length))
    return b"".join(parts)


def piece_at(torrent: Torrent, name: str, offset: int) -> tuple[int, int]:
    """(piece, offset in piece) of byte ``offset`` of file ``top/name``."""
    entry = next(e for e in torrent.files if e.path == ("top", *name.split("/")))
    return divmod(entry.offset + offset, torrent.piece_length)


def copy_all(torrent: Torrent, source: PieceStore, target: PieceStore) -> None:
    for piece in range(torrent.piece_count):
        size = source.layout.piece_size(piece)
        for begin in range(0, size, BLOCK):
            target.write_block(
                piece, begin, source.read_block(piece, begin, min(BLOCK, size - begin))
            )


@pytest.mark.parametrize("version", VERSIONS)
def test_blocks_written_then_read_back_make_the_download(tmp_path: Path, version: Version) -> None:
    torrent = make_torrent(tmp_path, version)
    with PieceStore(torrent, tmp_path / "seed") as seed, PieceStore(torrent, tmp_path / "dl") as dl:
        copy_all(torrent, seed, dl)
        assert all(dl.hash_piece(p) for p in range(torrent.piece_count))
        for piece in range(torrent.piece_count):
            assert dl.read_piece(piece) == seed.read_piece(piece)
    assert verify(torrent, tmp_path / "dl").ok
    for name, size in FOLDER.items():
        written = tmp_path / "dl" / "top" / name
        assert written.read_bytes() == (tmp_path / "seed" / "top" / name).read_bytes()
        assert written.stat().st_size == size
    assert not (tmp_path / "dl" / "top" / ".pad").exists()


def test_a_block_across_file_boundaries_lands_in_each_file(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    # a.bin's last 23 bytes, b/small (100 bytes), then the start of b/zz: b/empty lies between.
    piece, begin = piece_at(torrent, "a.bin", FOLDER["a.bin"] - 23)
    seed = PieceStore(torrent, tmp_path / "seed")
    block = seed.read_block(piece, begin, 23 + 100 + 50)
    data = stream(torrent, tmp_path / "seed")
    assert block == data[piece * PIECE + begin :][: len(block)]
    dl = PieceStore(torrent, tmp_path / "dl")
    dl.write_block(piece, begin, block)
    top = tmp_path / "dl" / "top"
    assert (top / "a.bin").read_bytes()[-23:] == block[:23]
    assert (top / "b" / "small").read_bytes() == block[23:123]
    assert (top / "b" / "zz").read_bytes()[:50] == block[123:]
    assert (top / "b" / "zz").stat().st_size == FOLDER["b/zz"]
    assert dl.read_block(piece, begin, len(block)) == block


def test_a_piece_spanning_several_small_files(tmp_path: Path) -> None:
    files = {"x": 100, "y": 7, "z": 3 * PIECE}
    torrent = make_torrent(tmp_path, "v1", files)
    seed = PieceStore(torrent, tmp_path / "seed")
    assert [s.file_index for s in seed.layout.piece_spans(0)] == [0, 1, 2]
    assert seed.hash_piece(0)
    assert seed.read_piece(0) == stream(torrent, tmp_path / "seed")[:PIECE]


@pytest.fixture(scope="module")
def hybrid_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[PieceStore, bytes]:
    tmp_path = tmp_path_factory.mktemp("hybrid")
    torrent = make_torrent(tmp_path, "hybrid")
    return PieceStore(torrent, tmp_path / "seed"), stream(torrent, tmp_path / "seed")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_block_reads_as_the_piece_space(
    hybrid_seed: tuple[PieceStore, bytes], data: st.DataObject
) -> None:
    store, space = hybrid_seed
    piece = data.draw(st.integers(0, store.layout.piece_count - 1), label="piece")
    size = store.layout.piece_size(piece)
    begin = data.draw(st.integers(0, size - 1), label="begin")
    length = data.draw(st.integers(1, size - begin), label="length")
    expected = space[piece * PIECE + begin :][:length]
    assert store.read_block(piece, begin, length) == expected


def test_blocks_outside_a_piece_are_refused(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    store = PieceStore(torrent, tmp_path / "seed")
    last = torrent.piece_count - 1
    with pytest.raises(LayoutError, match=f"piece {last}"):
        store.read_block(last, torrent.last_piece_size - 1, 2)
    with pytest.raises(LayoutError, match="out of range"):
        store.write_block(torrent.piece_count, 0, b"x")


def test_files_are_sparse_at_full_size_from_the_first_write(tmp_path: Path) -> None:
    size = 64 * PIECE
    torrent = make_torrent(tmp_path, "v1", {"big": size, "after": 10})
    store = PieceStore(torrent, tmp_path / "dl")
    store.write_block(40, 0, b"\x01" * BLOCK)
    big = (tmp_path / "dl" / "top" / "big").stat()
    assert big.st_size == size
    assert big.st_blocks * 512 < size // 4  # one block on disk, not two megabytes of zeros
    assert not (tmp_path / "dl" / "top" / "after").exists()  # not touched yet
    assert store.read_block(40, 0, BLOCK) == b"\x01" * BLOCK
    assert store.read_block(3, 0, BLOCK) == bytes(BLOCK)  # a hole reads as zeros


def test_empty_files_appear_at_the_first_write_and_not_before(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v2")
    store = PieceStore(torrent, tmp_path / "dl")
    top = tmp_path / "dl" / "top"
    assert not top.exists()
    piece, _ = piece_at(torrent, "c", 0)
    store.write_block(piece, 0, b"c")
    assert (top / "b" / "empty").stat().st_size == 0
    assert (top / "e").stat().st_size == 0
    assert not (top / "a.bin").exists()


def test_skipped_files_are_not_created_unless_a_wanted_piece_holds_their_bytes(
    tmp_path: Path,
) -> None:
    # v1, 32 KiB pieces: a.bin ends inside piece 3, with b/empty, b/small and b/zz's start
    torrent = make_torrent(tmp_path, "v1")
    index = {"/".join(e.path[1:]): i for i, e in enumerate(torrent.files)}
    skipped = [index[name] for name in ("b/empty", "b/small", "b/zz", "d/long", "e")]
    seed = PieceStore(torrent, tmp_path / "seed")
    dl = PieceStore(torrent, tmp_path / "dl", skip=skipped)
    for piece in range(4):  # the pieces of a.bin, the only file wanted
        dl.write_block(piece, 0, seed.read_piece(piece))
    got, want = tmp_path / "dl" / "top", tmp_path / "seed" / "top"
    assert (got / "a.bin").read_bytes() == (want / "a.bin").read_bytes()
    assert not (got / "b" / "empty").exists() and not (got / "e").exists()  # skipped, empty
    assert not (got / "d" / "long").exists()  # skipped, and no wanted piece touches it
    assert (got / "b" / "small").read_bytes() == (want / "b" / "small").read_bytes()
    zz, shared = (got / "b" / "zz").read_bytes(), 4 * PIECE - torrent.files[index["b/zz"]].offset
    assert zz[:shared] == (want / "b" / "zz").read_bytes()[:shared]
    assert zz[shared:] == bytes(len(zz) - shared)  # only piece 3's bytes were written


def test_pad_files_read_as_zeros_and_never_reach_the_disk(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "hybrid")
    pad = next(e for e in torrent.files if e.is_pad)
    piece, begin = divmod(pad.offset, PIECE)
    store = PieceStore(torrent, tmp_path / "seed")
    assert store.read_block(piece, begin, pad.length) == bytes(pad.length)
    before = store.read_block(piece, 0, begin)
    dl = PieceStore(torrent, tmp_path / "dl")
    dl.write_block(piece, 0, before + b"\xff" * pad.length)  # a peer's junk in the padding
    assert dl.read_piece(piece) == before + bytes(pad.length)
    assert dl.hash_piece(piece)
    assert not (tmp_path / "dl" / "top" / ".pad").exists()
    with pytest.raises(KeyError):
        dl.disk_path(torrent.files.index(pad))


@pytest.mark.parametrize("version", VERSIONS)
def test_hash_piece_finds_a_flipped_byte(tmp_path: Path, version: Version) -> None:
    torrent = make_torrent(tmp_path, version)
    store = PieceStore(torrent, tmp_path / "seed")
    damaged, _ = piece_at(torrent, "d/long", 5 * PIECE + 3)
    flip_byte(tmp_path / "seed" / "top" / "d" / "long", 5 * PIECE + 3)
    results = [store.hash_piece(p) for p in range(torrent.piece_count)]
    assert [p for p, ok in enumerate(results) if not ok] == [damaged]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_piece_from_memory_is_written_only_if_it_matches(
    tmp_path: Path, version: Version
) -> None:
    torrent = make_torrent(tmp_path, version)
    seed = PieceStore(torrent, tmp_path / "seed")
    target = PieceStore(torrent, tmp_path / "dl")
    damaged, _ = piece_at(torrent, "d/long", 5 * PIECE + 3)
    for piece in range(torrent.piece_count):
        data = seed.read_piece(piece)
        if piece == damaged:
            assert not target.write_piece_if_valid(piece, [data[:3], b"\0", data[4:]])
        else:
            assert target.write_piece_if_valid(piece, [data[:BLOCK], data[BLOCK:]])
    assert [p for p in range(torrent.piece_count) if not target.hash_piece(p)] == [damaged]
    assert target.read_block(damaged, 0, 4) == bytes(4)  # the bad bytes never landed
    with pytest.raises(ValueError, match=f"piece 0 is {PIECE} bytes, the blocks given hold 3"):
        target.write_piece_if_valid(0, [b"abc"])


def test_hybrid_piece_must_pass_both_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torrent = make_torrent(tmp_path, "hybrid")
    store = PieceStore(torrent, tmp_path / "seed")
    assert store.hash_piece(0)
    monkeypatch.setattr(piece_store, "v2_piece_hashes", lambda *_: [bytes(32)])
    assert not store.hash_piece(0)  # SHA-1 alone matching is not enough


def test_the_descriptor_cache_stays_bounded(tmp_path: Path) -> None:
    files = {f"f{i}": 3000 for i in range(12)}
    torrent = make_torrent(tmp_path, "v1", files)
    seed = PieceStore(torrent, tmp_path / "seed", max_open_files=2)
    dl = PieceStore(torrent, tmp_path / "dl", max_open_files=2)
    threads = [threading.Thread(target=copy_all, args=(torrent, seed, dl)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dl._handles.open_count <= 2
    assert seed._handles.open_count <= 2
    dl.close()
    assert dl._handles.open_count == 0
    assert verify(torrent, tmp_path / "dl").ok


def test_a_folder_where_a_file_belongs_is_named(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    (tmp_path / "dl" / "top" / "c").mkdir(parents=True)
    store = PieceStore(torrent, tmp_path / "dl")
    piece, begin = piece_at(torrent, "c", 0)
    with pytest.raises(StorageError, match=r"top/c: cannot open for writing: Is a directory"):
        store.write_block(piece, begin, b"data")


def test_a_file_where_a_folder_belongs_is_named(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    (tmp_path / "dl" / "top").mkdir(parents=True)
    (tmp_path / "dl" / "top" / "d").write_bytes(b"in the way")
    store = PieceStore(torrent, tmp_path / "dl")
    piece, begin = piece_at(torrent, "d/long", 0)
    with pytest.raises(StorageError, match=r"top/d: cannot create folder"):
        store.write_block(piece, begin, b"data")


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    (tmp_path / "dl" / "top").mkdir(parents=True)
    (tmp_path / "dl" / "top" / "c").symlink_to(outside)
    store = PieceStore(torrent, tmp_path / "dl")
    piece, begin = piece_at(torrent, "c", 0)
    with pytest.raises(StorageError, match=r"top/c: .*symbolic link"):
        store.write_block(piece, begin, b"overwrite")
    assert outside.read_bytes() == b"precious"


def test_a_full_disk_is_reported_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torrent = make_torrent(tmp_path, "v1")
    store = PieceStore(torrent, tmp_path / "dl")

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(StorageError, match=r"top/a\.bin: cannot write: No space left on device"):
        store.write_block(0, 0, b"x" * BLOCK)


def test_missing_and_short_files_are_read_errors(tmp_path: Path) -> None:
    torrent = make_torrent(tmp_path, "v1")
    seed = tmp_path / "seed" / "top"
    (seed / "c").unlink()
    store = PieceStore(torrent, tmp_path / "seed")
    piece, begin = piece_at(torrent, "c", 0)
    with pytest.raises(StorageError, match=r"top/c: cannot open for reading: No such file"):
        store.read_block(piece, begin, 10)
    os.truncate(seed / "a.bin", 1000)
    with pytest.raises(StorageError, match=r"top/a\.bin: ends at byte 1000"):
        store.hash_piece(0)


def test_a_refused_permission_is_reported_with_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torrent = make_torrent(tmp_path, "v1")
    store = PieceStore(torrent, tmp_path / "seed")
    real_open = os.open

    def refuse(path: object, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith("a.bin"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(
        StorageError, match=r"top/a\.bin: cannot open for reading: Permission denied"
    ):
        store.read_block(0, 0, BLOCK)
    with pytest.raises(
        StorageError, match=r"top/a\.bin: cannot open for writing: Permission denied"
    ):
        store.write_block(0, 0, bytes(BLOCK))
    piece, begin = piece_at(torrent, "c", 0)
    expected = (tmp_path / "seed" / "top" / "c").read_bytes()[:10]
    assert store.read_block(piece, begin, 10) == expected  # other files still serve


def test_ranges_written_from_a_length_on_go_to_the_kernels_write_back_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(piece_store, "WRITEBACK_FROM", 50)
    torrent = make_torrent(tmp_path, "v1")
    piece, begin = piece_at(torrent, "a.bin", FOLDER["a.bin"] - 23)
    block = PieceStore(torrent, tmp_path / "seed").read_block(piece, begin, 23 + 100 + 50)
    started: list[tuple[str, int, int]] = []

    def record(fd: int, offset: int, length: int) -> None:
        started.append((os.readlink(f"/proc/self/fd/{fd}"), offset, length))

    monkeypatch.setattr(piece_store, "start_writeback", record)
    dl = PieceStore(torrent, tmp_path / "dl")
    dl.write_block(piece, begin, block)
    top = tmp_path / "dl" / "top"
    assert started == [(str(top / "b" / "small"), 0, 100), (str(top / "b" / "zz"), 0, 50)]
    dl.read_block(piece, begin, len(block))
    assert len(started) == 2  # reads start nothing
