"""The swarm core and the simulator compiled with mypyc, used only while they match the sources.

The modules in :data:`MODULES` are plain, fully typed Python. ``pip install``
also compiles them with mypyc (``setup.py``), which runs them two to three
times faster: the simulator's events and the peer's per-block work are spent
there. One build is a folder beside the ``bitswarm`` package named after a
digest of the sources it was compiled from (:func:`build_name`): a library
holding the compiled code of every module, and per module a small extension
that loads it.

Nothing in that folder is on the import path, so Python never finds a compiled
module by itself, whatever the checkout or the edit. :func:`select`, run when
:mod:`bitswarm` is first imported, puts a finder for the build first on
``sys.meta_path`` only when the build of the sources on disk now is complete:
after an edit, a checkout or a half-failed build, every module runs from its
source, never some of each (a compiled module calls its group-mates natively
and cannot share objects with interpreted twins of them).
``BITSWARM_PURE_PYTHON=1`` asks for the sources even where a build is present.

The digest covers every source under ``bitswarm/core`` and ``bitswarm/sim``,
not only the compiled ones: mypyc compiles against the types of what they
import. This module uses nothing outside the standard library, because
``setup.py`` runs it to know what to compile.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

MODULES = (
    "bitswarm.core.swarm.actions",
    "bitswarm.core.swarm.availability",
    "bitswarm.core.swarm.bitfield",
    "bitswarm.core.swarm.choker",
    "bitswarm.core.swarm.config",
    "bitswarm.core.swarm.deadlines",
    "bitswarm.core.swarm.download",
    "bitswarm.core.swarm.order",
    "bitswarm.core.swarm.peer_state",
    "bitswarm.core.swarm.picker",
    "bitswarm.core.swarm.pieces",
    "bitswarm.core.swarm.pipeline",
    "bitswarm.core.swarm.rates",
    "bitswarm.core.swarm.smart_ban",
    "bitswarm.core.swarm.suggest",
    "bitswarm.core.swarm.super_seed",
    "bitswarm.core.swarm.torrent",
    "bitswarm.core.swarm.totals",
    "bitswarm.core.swarm.upload",
    "bitswarm.sim.disk",
    "bitswarm.sim.engine",
    "bitswarm.sim.links",
    "bitswarm.sim.peer",
    "bitswarm.sim.simulation",
    "bitswarm.sim.stats",
    "bitswarm.sim.tracker",
    "bitswarm.sim.transport",
)
"""What mypyc compiles: the swarm core and the simulator's hot path."""

DIGESTED = ("bitswarm/core", "bitswarm/sim")
"""The folders whose sources a build is named after."""

PURE_VARIABLE = "BITSWARM_PURE_PYTHON"
"""Set to 1 to run the interpreted modules even where a fresh build is present."""

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The folder holding the ``bitswarm`` package (``src`` in a checkout)."""


def source_path(module: str, root: str = _PACKAGE_ROOT) -> str:
    """The ``.py`` file of ``module`` under ``root``."""

    return os.path.join(root, *module.split(".")) + ".py"


def source_digest(root: str = _PACKAGE_ROOT) -> str:
    """A digest of :data:`MODULES` and of the names and texts of every source under
    :data:`DIGESTED`."""

    paths = []
    for folder in DIGESTED:
        for directory, _, files in os.walk(os.path.join(root, folder)):
            paths += [os.path.join(directory, name) for name in files if name.endswith(".py")]
    digest = hashlib.sha1("\n".join(MODULES).encode())  # a build of other modules is another
    for path in sorted(paths):
        with open(path, "rb") as source:
            text = source.read()
        digest.update(f"{os.path.relpath(path, root)}\0{len(text)}\0".encode())
        digest.update(text)
    return digest.hexdigest()[:16]


def build_name(digest: str) -> str:
    """The folder of the build of sources of ``digest``; also the name its library starts
    with (the library's module is this plus ``__mypyc``, inside the folder)."""

    return f"bitswarm_native_{digest}"


def _extension(base: str) -> str | None:
    """The compiled file ``base`` plus an extension suffix, if one exists."""

    for suffix in EXTENSION_SUFFIXES:
        if os.path.exists(base + suffix):
            return base + suffix
    return None


def build_files(root: str = _PACKAGE_ROOT) -> dict[str, str] | None:
    """Module name -> compiled file, for the library and every module in :data:`MODULES`,
    from the build of the sources on disk now; ``None`` unless every one is there."""

    name = build_name(source_digest(root))
    folder = os.path.join(root, name)
    files = {}
    for module in (f"{name}__mypyc", *MODULES):
        path = _extension(os.path.join(folder, *module.split(".")))
        if path is None:
            return None
        files[module] = path
    return files


class _BuildFinder:
    """A meta path finder that loads the modules of one build from its folder."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        file = self.files.get(name)
        return None if file is None else importlib.util.spec_from_file_location(name, file)


def select(root: str = _PACKAGE_ROOT) -> bool:
    """Load the compiled modules from now on if the build of the sources is complete (and
    not refused by :data:`PURE_VARIABLE`); returns whether they will be loaded."""

    if any(isinstance(finder, _BuildFinder) for finder in sys.meta_path):
        return True  # chosen already (the package was reloaded)
    if os.environ.get(PURE_VARIABLE) == "1":
        return False
    files = build_files(root)
    if files is None:
        return False
    sys.meta_path.insert(0, _BuildFinder(files))
    return True
