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
from functools import partial
from pathlib import PurePosixPath

from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.fields import Where, key_path, resolve

_UNSAFE_START = re.compile(
    r"(?P<dots>\.{0,2}\Z)"
    r"|(?P<drive>[A-Za-z]:)"
    r"|(?P<device>(?:CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9]) *(?:\.|\Z))",
    re.IGNORECASE,
)
_UNSAFE_CHAR = re.compile(r"(?P<separator>[/\\])|(?P<control>[\x00-\x1f])")
_REASONS = {
    "dots": "path component {component!r} would leave its folder",
    "separator": "path separator inside component {component!r}",
    "control": "control character {found!r} in component {component!r}",
    "drive": "Windows drive prefix in component {component!r}",
    "device": "Windows reserved device name {component!r}",
}


def unsafe_reason(component: str) -> str | None:
    """Why ``component`` may not be one element of a path, or ``None`` if it may."""
    found = _UNSAFE_START.match(component) or _UNSAFE_CHAR.search(component)
    if found is None:
        return None
    if not component:
        return "empty path component"
    return _REASONS[str(found.lastgroup)].format(component=component, found=found.group())


def check_component(component: str, where: Where) -> str:
    """``component`` unchanged if it is safe, else :class:`TorrentError` at ``where``."""
    reason = unsafe_reason(component)
    if reason is not None:
        raise TorrentError(resolve(where), reason)
    return component


def check_path(components: Sequence[str], where: Where) -> tuple[str, ...]:
    """A non-empty tuple of safe components, else :class:`TorrentError` at ``where[i]``."""
    if not components:
        raise TorrentError(resolve(where), "empty path")
    # Two passes in C over every component; the fault is spelled out only if there is one.
    if any(map(_UNSAFE_START.match, components)) or any(map(_UNSAFE_CHAR.search, components)):
        spelled = resolve(where)
        for i, part in enumerate(components):
            check_component(part, partial(key_path, spelled, i))
    return tuple(components)


def check_distinct(paths: Iterable[tuple[Where, tuple[str, ...]]]) -> None:
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
                    resolve(where),
                    f"{'/'.join(path[: depth + 1])} is a file listed before, not a folder",
                )
            node = child
        if path[-1] in node:
            raise TorrentError(resolve(where), f"{'/'.join(path)} is listed before")
        node[path[-1]] = path


def target_path(root: PurePosixPath | str, path: Sequence[str]) -> PurePosixPath:
    """Where a file with ``path`` components lands under ``root``.

    ``path`` is a :attr:`FileEntry.path <bitswarm.core.metainfo.FileEntry.path>`,
    which already starts with the torrent's folder for multi-file torrents. The
    components are checked again here, so a hand-built entry cannot escape either.
    """
    return PurePosixPath(root).joinpath(*check_path(path, "path"))
