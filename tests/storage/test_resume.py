"""Resume data: atomic saves, trust of unchanged files, rechecks, a writer killed with SIGKILL."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.bencode import Value, encode
from bitswarm.core.metainfo import Torrent, Version
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.create import create_torrent
from bitswarm.storage.errors import StorageError
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.resume import (
    FileState,
    ResumeData,
    ResumeError,
    check_resume,
    load_resume,
    recheck,
    restore,
    resume_path,
    save_resume,
    snapshot,
)
from bitswarm.storage.verify import PieceStatus, verify
from torrent_content import FOLDER, PIECE, flip_byte, make_files

WRITER = Path(__file__).with_name("resume_writer.py")
SRC = Path(__file__).parents[2] / "src"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A complete download of ``FOLDER`` under ``tmp_path / "data"``."""
    make_files(tmp_path / "data" / "top", FOLDER)
    return tmp_path / "data"


def torrent_of(data: Path, version: Version = "v1") -> Torrent:
    return create_torrent(data / "top", version=version, piece_length=PIECE, creation_date=None)


def pieces_of(torrent: Torrent, name: str) -> set[int]:
    entry = next(e for e in torrent.files if e.path == ("top", *name.split("/")))
    first = entry.offset // PIECE
    return set(range(first, -(-entry.end // PIECE)))


def good_pieces(torrent: Torrent, root: Path) -> set[int]:
    report = verify(torrent, root)
    return {p for p, status in enumerate(report.pieces) if status is PieceStatus.GOOD}


def save_all(torrent: Torrent, data: Path, state: Path) -> ResumeData:
    resume = snapshot(torrent, data, Bitfield.full(torrent.piece_count))
    save_resume(state, resume)
    return resume


def restore_from(torrent: Torrent, data: Path, resume: ResumeData, tmp_path: Path) -> Bitfield:
    save_resume(tmp_path / "state", resume)
    return restore(torrent, data, tmp_path / "state")


def test_resume_data_round_trips(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data, "hybrid")
    have = Bitfield.from_indices(torrent.piece_count, [0, 3, 5])
    resume = snapshot(torrent, data, have)
    path = save_resume(tmp_path / "state", resume)
    assert path == resume_path(tmp_path / "state", torrent)
    assert path.name == f"{torrent.info_hash_v2.hex()}.resume"  # type: ignore[union-attr]
    loaded = load_resume(tmp_path / "state", torrent)
    assert loaded == resume
    assert loaded.verified() == have
    pads = [i for i, e in enumerate(torrent.files) if e.is_pad]
    assert pads and all(loaded.files[i] is None for i in pads)
    size = (data / "top" / "c").stat().st_size
    assert FileState(size, (data / "top" / "c").stat().st_mtime_ns) in loaded.files
    assert load_resume(tmp_path / "elsewhere", torrent) is None


def test_a_failing_write_leaves_the_old_resume_data(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torrent = torrent_of(data)
    state = tmp_path / "state"
    old = save_all(torrent, data, state)
    before = resume_path(state, torrent).read_bytes()
    real_write = os.write

    def crash_half_way(fd: int, chunk: bytes) -> int:
        real_write(fd, bytes(chunk[: len(chunk) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    newer = snapshot(torrent, data, Bitfield(torrent.piece_count))
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", crash_half_way)
        with pytest.raises(StorageError, match=r"\.resume: cannot save resume data: No space left"):
            save_resume(state, newer)
    assert resume_path(state, torrent).read_bytes() == before
    assert load_resume(state, torrent) == old
    assert [p.name for p in state.iterdir()] == [resume_path(state, torrent).name]


def test_unchanged_files_are_trusted_without_hashing(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    have = Bitfield.from_indices(torrent.piece_count, range(0, torrent.piece_count, 2))
    save_resume(tmp_path / "state", snapshot(torrent, data, have))
    check = check_resume(torrent, data, load_resume(tmp_path / "state", torrent))
    assert check.recheck == ()
    assert check.trusted == tuple(have)
    assert restore(torrent, data, tmp_path / "state") == have  # not more: nothing was hashed


def test_a_touched_file_is_rechecked_and_its_good_pieces_kept(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    save_all(torrent, data, tmp_path / "state")
    os.utime(data / "top" / "d" / "long", ns=(1, 1))
    check = check_resume(torrent, data, load_resume(tmp_path / "state", torrent))
    assert set(check.recheck) == pieces_of(torrent, "d/long")
    assert set(check.trusted).isdisjoint(check.recheck)
    assert restore(torrent, data, tmp_path / "state").all()


def test_a_damaged_file_loses_only_its_bad_piece(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    save_all(torrent, data, tmp_path / "state")
    flip_byte(data / "top" / "d" / "long", 4 * PIECE)
    os.utime(data / "top" / "d" / "long", ns=(1, 2))  # whatever the clock's resolution
    have = restore(torrent, data, tmp_path / "state")
    assert set(have.missing()) == set(range(torrent.piece_count)) - good_pieces(torrent, data)
    assert have.count() == torrent.piece_count - 1


def test_a_truncated_file_drops_the_pieces_it_no_longer_holds(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    save_all(torrent, data, tmp_path / "state")
    os.truncate(data / "top" / "a.bin", PIECE + 10)
    have = set(restore(torrent, data, tmp_path / "state"))
    lost = pieces_of(torrent, "a.bin") - {0}
    assert have == set(range(torrent.piece_count)) - lost
    assert have == good_pieces(torrent, data)


def test_a_deleted_file_drops_its_pieces_and_shared_ones(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    save_all(torrent, data, tmp_path / "state")
    (data / "top" / "c").unlink()
    check = check_resume(torrent, data, load_resume(tmp_path / "state", torrent))
    shared = pieces_of(torrent, "c")
    assert shared < pieces_of(torrent, "b/zz") | pieces_of(torrent, "d/long") | shared
    assert shared & pieces_of(torrent, "b/zz")  # c's piece also holds the end of b/zz
    assert set(check.recheck) == shared
    have = set(restore(torrent, data, tmp_path / "state"))
    assert have == set(range(torrent.piece_count)) - shared


def test_a_file_gone_missing_is_never_trusted_whatever_the_resume_says(
    data: Path, tmp_path: Path
) -> None:
    torrent = torrent_of(data)
    (data / "top" / "c").unlink()
    stale = snapshot(torrent, data, Bitfield.full(torrent.piece_count))
    check = check_resume(torrent, data, stale)  # c recorded absent, yet every piece verified
    assert set(check.recheck) == pieces_of(torrent, "c")
    assert set(restore_from(torrent, data, stale, tmp_path)) == good_pieces(torrent, data)


def test_foreign_or_damaged_resume_data_means_a_full_recheck(
    data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torrent = torrent_of(data)
    other = torrent_of(data, "hybrid")
    check = check_resume(torrent, data, snapshot(other, data, Bitfield.full(other.piece_count)))
    assert check == type(check)((), tuple(range(torrent.piece_count)))
    state = tmp_path / "state"
    state.mkdir()
    resume_path(state, torrent).write_bytes(b"d7:version")
    with pytest.raises(ResumeError, match=r"resume data: .*at byte"):
        load_resume(state, torrent)
    flip_byte(data / "top" / "b" / "zz", 0)
    have = restore(torrent, data, state)
    assert set(have) == good_pieces(torrent, data)
    assert "checking all data" in caplog.text


def test_forced_recheck_ignores_resume_data(data: Path, tmp_path: Path) -> None:
    torrent = torrent_of(data)
    save_all(torrent, data, tmp_path / "state")
    stat = (data / "top" / "a.bin").stat()
    flip_byte(data / "top" / "a.bin", 7)
    os.utime(data / "top" / "a.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # hides the change
    assert restore(torrent, data, tmp_path / "state").all()
    assert set(restore(torrent, data, tmp_path / "state", force=True)) == set(
        range(1, torrent.piece_count)
    )


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_recheck_hashes_only_the_pieces_asked(data: Path, version: Version) -> None:
    torrent = torrent_of(data, version)
    flip_byte(data / "top" / "d" / "long", 0)
    damaged = min(pieces_of(torrent, "d/long"))
    asked = {1, damaged, torrent.piece_count - 1}
    calls: list[tuple[int, int]] = []
    report = verify(torrent, data, lambda done, total: calls.append((done, total)), pieces=asked)
    layout = PieceStore(torrent, data).layout
    content = sum(s.length for p in asked for s in layout.piece_spans(p) if not s.is_pad)
    assert calls[-1] == (content, content)  # progress counts the asked pieces only
    statuses = {p: s for p, s in enumerate(report.pieces) if s is not PieceStatus.MISSING}
    assert statuses == {
        1: PieceStatus.GOOD,
        damaged: PieceStatus.BAD,
        torrent.piece_count - 1: PieceStatus.GOOD,
    }
    assert set(recheck(torrent, data, asked)) == asked - {damaged}
    assert recheck(torrent, data, ()).none()


GOOD_FIELDS: dict[bytes, Value] = {
    b"version": 1,
    b"info-hash": b"h" * 20,
    b"pieces": 3,
    b"have": b"\xe0",
    b"files": [[5, 7], []],
}


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({b"version": 2}, "version: unsupported version 2"),
        ({b"info-hash": None}, "info-hash: missing"),
        ({b"info-hash": b"abc"}, "info-hash: 3 bytes, not 20 or 32"),
        ({b"pieces": b"3"}, "pieces: expected int, got bytes"),
        ({b"pieces": -1}, "pieces: negative count -1"),
        ({b"have": b"\xf0"}, "have: bitfield has spare bits set after piece 2"),
        ({b"have": b""}, "have: bitfield is 0 bytes, expected 1"),
        ({b"files": [[5, 7], [1]]}, r"files\[1\]: expected \[\] or \[size, mtime_ns\]"),
        ({b"files": [[-5, 7]]}, r"files\[0\]: negative size -5"),
        ({b"files": {}}, "files: expected list, got dict"),
    ],
)
def test_damaged_resume_data_is_named_precisely(
    changes: dict[bytes, Value | None], where: str
) -> None:
    assert ResumeData.from_bytes(encode(GOOD_FIELDS)).verified().to_string() == "111"
    fields = {**GOOD_FIELDS, **changes}
    document = encode({k: v for k, v in fields.items() if v is not None})
    with pytest.raises(ResumeError, match=f"^resume data: {where}"):
        ResumeData.from_bytes(document)


def test_resume_data_that_is_not_a_dictionary_is_refused() -> None:
    with pytest.raises(ResumeError, match=r"^resume data: not a dictionary$"):
        ResumeData.from_bytes(b"le")
    with pytest.raises(ResumeError, match=r"^resume data: bencode: .*at byte"):
        ResumeData.from_bytes(b"d7:version")


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_resume_error(document: bytes) -> None:
    with contextlib.suppress(ResumeError):
        ResumeData.from_bytes(document)


@given(
    st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.integers(0, max(n - 1, 0)), max_size=n),
            st.lists(st.none() | st.builds(FileState, st.integers(0, 2**40), st.integers())),
        )
    ),
    st.binary(min_size=32, max_size=32),
)
def test_valid_resume_data_round_trips(
    parts: tuple[int, set[int], list[FileState | None]], info_hash: bytes
) -> None:
    count, indices, files = parts
    have = Bitfield.from_indices(count, indices if count else ())
    resume = ResumeData(info_hash, count, have.to_wire(), tuple(files))
    assert ResumeData.from_bytes(resume.to_bytes()) == resume


@pytest.mark.slow
def test_a_writer_killed_mid_download_loses_nothing_verified(tmp_path: Path) -> None:
    files = {f"part{i}": 6 * PIECE + 1000 * i for i in range(6)}
    make_files(tmp_path / "seed" / "top", files)
    torrent = create_torrent(
        tmp_path / "seed" / "top", version="v1", piece_length=PIECE, creation_date=None
    )
    (tmp_path / "t.torrent").write_bytes(torrent.to_bytes())
    download, state = tmp_path / "dl", tmp_path / "state"
    args = [str(p) for p in (tmp_path / "t.torrent", tmp_path / "seed", download, state)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert writer.stdout is not None
    reported: set[int] = set()
    since_save: set[int] = set()
    saves = 0
    for line in writer.stdout:
        if line.strip() == "saved":
            saves, since_save = saves + 1, set()
            continue
        piece, verdict = line.split()
        if verdict == "good":
            reported.add(int(piece))
            since_save.add(int(piece))
        if saves >= 4 and len(since_save) >= 2:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL

    resume = load_resume(state, torrent)
    assert resume is not None
    saved = set(resume.verified())
    check = check_resume(torrent, download, resume)
    assert check.trusted and check.recheck  # both paths taken
    assert since_save <= set(check.recheck)  # verified after the last save: found by hashing
    have = set(restore(torrent, download, state))
    assert have == good_pieces(torrent, download)  # exactly the good pieces, no corrupt one
    assert saved | reported <= have
    assert not {p for p in have if p % 5 == 4}  # the damaged ones are not kept
