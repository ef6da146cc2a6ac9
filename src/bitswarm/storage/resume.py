"""Resume data: which pieces were verified, so a restart need not hash everything again.

Hashing a large download again at every start costs minutes of disk and CPU;
libtorrent and Transmission avoid it by saving, beside the data, the set of
verified pieces and the size and modification time of each file. bitswarm does
the same. Resume data is bencoded (one file per torrent, named by its
info-hash, in a state folder the caller chooses)::

    {"version": 1, "info-hash": <32-byte v2 or 20-byte v1 hash>,
     "pieces": <piece count>, "have": <BEP 3 bitfield of verified pieces>,
     "files": [[size, mtime_ns] or [] for a file not on disk, ... in torrent order]}

Theory of operation
-------------------
*Saving* (:func:`snapshot`, :func:`save_resume`): the session flushes the
store (``fsync``), then records the files' sizes and mtimes and the verified
pieces, and writes the result atomically: a temporary file in the same folder,
``fsync``, ``os.replace`` over the old one, ``fsync`` of the folder. A crash at
any point leaves the old resume data or the new, never a torn one. Because the
files are stat-ed *after* the pieces were verified, any write that lands later,
finished or torn, changes the file's mtime.

*Starting* (:func:`check_resume`, :func:`restore`): a piece is trusted only if
every file it touches has the size and mtime recorded, and is on disk. Every
piece touching a changed or missing file is hashed again, whether or not the
resume data had it: pieces verified after the last save are found again, and
a piece damaged meanwhile is dropped. So nothing verified is lost, and no
corrupt data is kept. Two things this cannot see: a change that keeps both
size and mtime (a tool resetting mtime after editing), for which a forced
recheck (``restore(force=True)``) hashes everything present, ignoring the
resume data; and writes landing within the file system's timestamp tick of the
save (a few milliseconds), which leave the mtime as recorded. Those can only be
writes of pieces not yet verified at the save (verified pieces are never
written again), so the worst case is a piece downloaded twice, never one kept
corrupt.

Resume data comes from disk and may be damaged or stale: :meth:`ResumeData.from_bytes`
checks every field and raises :class:`ResumeError` saying what and where, and
data for another torrent (info-hash, piece or file count) is not used.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bitswarm.core.bencode import BencodeError, Value, decode, encode
from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import Torrent
from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError
from bitswarm.storage.errors import StorageError
from bitswarm.storage.hashing import Progress
from bitswarm.storage.piece_store import disk_path
from bitswarm.storage.verify import PieceStatus, verify

FORMAT_VERSION = 1
SUFFIX = ".resume"

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


class ResumeError(ValueError):
    """Resume data that cannot be read: ``where`` in it, and ``reason``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"resume data: {where}: {reason}" if where else f"resume data: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FileState:
    """A file as it was on disk: its size and modification time in nanoseconds."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ResumeData:
    """The verified pieces of one torrent and the state of its files when they were verified.

    ``info_hash`` is :func:`identity` of the torrent; ``have`` the BEP 3
    bitfield of the verified pieces; ``files`` one entry per torrent file, in
    order, ``None`` where no regular file was on disk (always so for pad files).
    """

    info_hash: bytes
    piece_count: int
    have: bytes
    files: tuple[FileState | None, ...]

    def verified(self) -> Bitfield:
        return Bitfield.from_wire(self.have, self.piece_count)

    def fits(self, torrent: Torrent) -> bool:
        """Whether this is resume data of ``torrent`` (same info-hash, pieces and files)."""
        return (
            self.info_hash == identity(torrent)
            and self.piece_count == torrent.piece_count
            and len(self.files) == len(torrent.files)
        )

    def to_bytes(self) -> bytes:
        files: list[Value] = [
            [] if state is None else [state.size, state.mtime_ns] for state in self.files
        ]
        return encode(
            {
                b"version": FORMAT_VERSION,
                b"info-hash": self.info_hash,
                b"pieces": self.piece_count,
                b"have": self.have,
                b"files": files,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ResumeData:
        """Parse and check resume data; :class:`ResumeError` names the faulty field."""
        try:
            top = decode(data)
        except BencodeError as exc:
            raise ResumeError("", str(exc)) from None
        if not isinstance(top, dict):
            raise ResumeError("", "not a dictionary")
        version = _field(top, "version", int)
        if version != FORMAT_VERSION:
            raise ResumeError("version", f"unsupported version {version}")
        info_hash = _field(top, "info-hash", bytes)
        if len(info_hash) not in (20, 32):
            raise ResumeError("info-hash", f"{len(info_hash)} bytes, not 20 or 32")
        piece_count = _field(top, "pieces", int)
        if piece_count < 0:
            raise ResumeError("pieces", f"negative count {piece_count}")
        have = _field(top, "have", bytes)
        try:
            Bitfield.from_wire(have, piece_count)
        except BitfieldError as exc:
            raise ResumeError("have", str(exc)) from None
        files = tuple(
            _file_state(entry, f"files[{i}]") for i, entry in enumerate(_field(top, "files", list))
        )
        return cls(info_hash, piece_count, have, files)


def _field(top: dict[bytes, Value], name: str, kind: type[_T]) -> _T:
    value = top.get(name.encode())
    if value is None:
        raise ResumeError(name, "missing")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ResumeError(name, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _file_state(entry: Value, where: str) -> FileState | None:
    match entry:
        case []:
            return None
        case [int() as size, int() as mtime_ns]:
            if size < 0:
                raise ResumeError(where, f"negative size {size}")
            return FileState(size, mtime_ns)
    raise ResumeError(where, "expected [] or [size, mtime_ns]")


def identity(torrent: Torrent) -> bytes:
    """The torrent's full info-hash: SHA-256 (v2, hybrid) when it has one, else SHA-1."""
    full = torrent.info_hash_v2 or torrent.info_hash_v1
    assert full is not None
    return full


def resume_path(state_dir: str | os.PathLike[str], torrent: Torrent) -> Path:
    """Where the resume data of ``torrent`` lives in the folder ``state_dir``."""
    return Path(state_dir) / f"{identity(torrent).hex()}{SUFFIX}"


def file_states(torrent: Torrent, root: str | os.PathLike[str]) -> tuple[FileState | None, ...]:
    """Size and mtime of each of the torrent's files under ``root`` (``None``: not on disk)."""
    states: list[FileState | None] = []
    for entry in torrent.files:
        info = None
        if not (entry.is_pad or entry.is_symlink):
            try:
                info = os.stat(disk_path(root, entry), follow_symlinks=False)
            except OSError:
                info = None
        regular = info is not None and stat.S_ISREG(info.st_mode)
        states.append(FileState(info.st_size, info.st_mtime_ns) if info and regular else None)
    return tuple(states)


def snapshot(torrent: Torrent, root: str | os.PathLike[str], have: Bitfield) -> ResumeData:
    """Resume data for ``have``: flush the store first, so the pieces are on disk."""
    if len(have) != torrent.piece_count:
        raise ValueError(f"bitfield of {len(have)} pieces for a torrent of {torrent.piece_count}")
    return ResumeData(
        identity(torrent), torrent.piece_count, have.to_wire(), file_states(torrent, root)
    )


def save_resume(state_dir: str | os.PathLike[str], resume: ResumeData) -> Path:
    """Write ``resume`` into ``state_dir`` atomically; returns its path.

    Raises :class:`StorageError` naming the file; the previous resume data,
    if any, is then left as it was.
    """
    folder = Path(state_dir)
    path = folder / f"{resume.info_hash.hex()}{SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StorageError(folder, f"cannot create resume file: {exc.strerror}") from exc
    try:
        try:
            data = memoryview(resume.to_bytes())
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise StorageError(path, f"cannot save resume data: {exc.strerror}") from exc
    _sync_folder(folder)
    return path


def _sync_folder(folder: Path) -> None:
    """``fsync`` a folder, so that a rename in it survives a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(folder, f"cannot sync folder: {exc.strerror}") from exc


def load_resume(state_dir: str | os.PathLike[str], torrent: Torrent) -> ResumeData | None:
    """The saved resume data of ``torrent``, or ``None`` if there is none.

    Raises :class:`ResumeError` for a damaged file, :class:`StorageError` for
    one that cannot be read.
    """
    path = resume_path(state_dir, torrent)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(path, f"cannot read resume data: {exc.strerror}") from exc
    return ResumeData.from_bytes(data)


@dataclass(frozen=True, slots=True)
class ResumeCheck:
    """What resume data says at start: pieces to trust as they are, and pieces to hash again."""

    trusted: tuple[int, ...]
    recheck: tuple[int, ...]


def check_resume(
    torrent: Torrent, root: str | os.PathLike[str], resume: ResumeData | None
) -> ResumeCheck:
    """Sort the pieces by what ``resume`` (or its absence) says of the files under ``root`` now.

    Reads no data, only file sizes and mtimes. Without usable resume data
    every piece is to be rechecked.
    """
    every = tuple(range(torrent.piece_count))
    if resume is None or not resume.fits(torrent):
        return ResumeCheck((), every)
    layout = Layout.of(torrent)
    suspect: set[int] = set()
    for index, (then, now) in enumerate(zip(resume.files, file_states(torrent, root), strict=True)):
        entry = torrent.files[index]
        on_disk = now is not None or entry.is_pad or entry.is_symlink
        if then != now or not on_disk:
            suspect.update(layout.file_pieces(index))
    trusted = tuple(piece for piece in resume.verified() if piece not in suspect)
    return ResumeCheck(trusted, tuple(sorted(suspect)))


def recheck(
    torrent: Torrent,
    root: str | os.PathLike[str],
    pieces: Collection[int] | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Bitfield:
    """Hash ``pieces`` (all of them if ``None``) on threads; the ones that are good.

    Raises :class:`StorageError` for a file that is there but cannot be read,
    and ``ValueError`` for a v2 torrent whose piece layers are not known.
    """
    good = Bitfield(torrent.piece_count)
    if pieces is not None and not pieces:
        return good
    report = verify(torrent, root, progress, workers=workers, pieces=pieces)
    for piece, status in enumerate(report.pieces):
        if status is PieceStatus.GOOD:
            good.set(piece)
    return good


def restore(
    torrent: Torrent,
    root: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Bitfield:
    """The verified pieces of ``torrent`` under ``root`` at start: trusted, or hashed again.

    Uses the resume data in ``state_dir`` unless ``force`` (a forced recheck:
    everything present is hashed). Damaged or foreign resume data is logged and
    ignored, which also means hashing everything.
    """
    resume = None
    if not force:
        try:
            resume = load_resume(state_dir, torrent)
        except ResumeError as exc:
            _log.warning("%s: %s; checking all data", resume_path(state_dir, torrent), exc)
    check = check_resume(torrent, root, resume)
    have = recheck(torrent, root, check.recheck, workers=workers, progress=progress)
    for piece in check.trusted:
        have.set(piece)
    return have
