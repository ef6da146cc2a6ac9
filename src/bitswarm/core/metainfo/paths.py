"""File names from a torrent, made safe to join under a download folder (BEP 3, 47, 52).

A torrent's ``name``, ``path`` lists (BEP 3), ``file tree`` keys (BEP 52) and
``symlink path`` lists (BEP 47) come from a stranger. Joined naively they can
climb out of the download folder (``..``), jump to the root (``/etc``,
``C:\\``), hide a separator inside one component (``a/../../b``), truncate a C
path (NUL) or open a device on Windows (``CON``, ``nul.txt``).

Choice: **reject, do not sanitize.** A component that is unsafe on any platform
bitswarm runs on raises :class:`TorrentError` naming the field. Sanitizing would
silently change the file set the publisher hashed: two names can collide after
rewriting (``a/b`` and ``a_b``), and a seeder on another machine would then hold
different files than the torrent describes. Honest torrents never need it; a
torrent that does is either broken or an attack, and the user should be told.

What is refused in one component: the empty string, ``.`` and ``..``, a ``/``
or ``\\`` anywhere, NUL and other C0 control characters, a leading Windows drive
(``C:``), and the Windows reserved device names (``CON``, ``PRN``, ``AUX``,
``NUL``, ``COM1``-``COM9``, ``LPT1``-``LPT9``, with or without an extension).

Two files may not share a path, and a file may not also be a folder of
another (``a`` and ``a/b``): one would overwrite the other on disk.
:func:`check_distinct` checks that with a trie, in time linear in the number of
components, whatever the depth of the paths.

Everything here is pure: :func:`target_path` builds a :class:`PurePosixPath`
and never looks at a disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from bitswarm.core.metainfo.errors import TorrentError

_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{n}" for n in range(1, 10)]
    + [f"LPT{n}" for n in range(1, 10)]
)
_CONTROL = re.compile(r"[\x00-\x1f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(component: str) -> str | None:
    """Why ``component`` may not be one element of a path, or ``None`` if it may."""
    if not component:
        return "empty path component"
    if component in (".", ".."):
        return f"path component {component!r} would leave its folder"
    if "/" in component or "\\" in component:
        return f"path separator inside component {component!r}"
    control = _CONTROL.search(component)
    if control:
        return f"control character {control.group()!r} in component {component!r}"
    if _DRIVE.match(component):
        return f"Windows drive prefix in component {component!r}"
    if component.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        return f"Windows reserved device name {component!r}"
    return None


def check_component(component: str, where: str) -> str:
    """``component`` unchanged if it is safe, else :class:`TorrentError` at ``where``."""
    reason = unsafe_reason(component)
    if reason is not None:
        raise TorrentError(where, reason)
    return component


def check_path(components: Sequence[str], where: str) -> tuple[str, ...]:
    """A non-empty tuple of safe components, else :class:`TorrentError`."""
    if not components:
        raise TorrentError(where, "empty path")
    return tuple(check_component(part, f"{where}[{i}]") for i, part in enumerate(components))


def check_distinct(paths: Iterable[tuple[str, tuple[str, ...]]]) -> None:
    """No two ``(where, path)`` pairs share a path, and no path runs through another.

    Raises :class:`TorrentError` at the ``where`` of the later of the two.
    """
    root: dict[str, object] = {}
    for where, path in paths:
        node = root
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise TorrentError(
                    where, f"{'/'.join(path[: depth + 1])} is a file listed before, not a folder"
                )
            node = child
        if path[-1] in node:
            raise TorrentError(where, f"{'/'.join(path)} is listed before")
        node[path[-1]] = where


def target_path(root: PurePosixPath | str, path: Sequence[str]) -> PurePosixPath:
    """Where a file with ``path`` components lands under ``root``.

    ``path`` is a :attr:`FileEntry.path <bitswarm.core.metainfo.FileEntry.path>`,
    which already starts with the torrent's folder for multi-file torrents. The
    components are checked again here, so a hand-built entry cannot escape either.
    """
    return PurePosixPath(root).joinpath(*check_path(path, "path"))
