"""The swarm core and the simulator compiled to C with mypyc, when they match their sources.

The modules in :data:`MODULES` are plain, fully typed Python. ``pip install``
also compiles them with mypyc (``setup.py``; ``BITSWARM_NATIVE=0`` at build
time skips it), which runs them two to three times faster: the simulator's
events and the peer's per-block work are spent there. Each compiled module is
a small extension beside its ``.py`` that loads one shared library, named
after a digest of the sources it was built from (:func:`library_name`).

An extension beside its source wins the import, so in an editable install an
edited ``.py`` would silently lose to the build of its old text. :func:`select`,
run when :mod:`bitswarm` is first imported, therefore loads the compiled
modules only when the library for the sources on disk now is present, and all
or none of them: a compiled module calls its group-mates natively and cannot
share objects with interpreted twins of them. Otherwise (sources edited since
the build, no build, or ``BITSWARM_PURE_PYTHON=1``) a finder put first on
``sys.meta_path`` loads every one of them from its source.

This module uses nothing outside the standard library, because ``setup.py``
runs it to know what to compile.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

MODULES = (
    *(
        f"bitswarm.core.swarm.{name}"
        for name in [
            "actions",
            "availability",
            "bitfield",
            "choker",
            "config",
            "deadlines",
            "download",
            "order",
            "peer_state",
            "picker",
            "pieces",
            "pipeline",
            "rates",
            "smart_ban",
            "suggest",
            "super_seed",
            "torrent",
            "totals",
            "upload",
        ]
    ),
    *(
        f"bitswarm.sim.{name}"
        for name in [
            "disk",
            "engine",
            "links",
            "peer",
            "simulation",
            "stats",
            "tracker",
            "transport",
        ]
    ),
)
"""What mypyc compiles: the swarm core and the simulator's hot path."""

PURE_VARIABLE = "BITSWARM_PURE_PYTHON"
"""Set to 1 to run the interpreted modules even where a fresh build is present."""

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The folder holding the ``bitswarm`` package (``src`` in a checkout)."""


def source_path(module: str, root: str = _PACKAGE_ROOT) -> str:
    return os.path.join(root, *module.split(".")) + ".py"


def source_digest(root: str = _PACKAGE_ROOT) -> str:
    """A digest of the names and texts of every module in :data:`MODULES`."""

    digest = hashlib.sha1()
    for module in MODULES:
        with open(source_path(module, root), "rb") as source:
            text = source.read()
        digest.update(f"{module}\0{len(text)}\0".encode())
        digest.update(text)
    return digest.hexdigest()[:16]


def library_name(digest: str) -> str:
    """The mypyc group built from sources of ``digest``: its shared library's module is this
    name plus ``__mypyc``, at the top level beside the ``bitswarm`` package."""

    return f"bitswarm_native_{digest}"


def _extension_beside(module: str, root: str) -> bool:
    base = os.path.join(root, *module.split("."))
    return any(os.path.exists(base + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def built(root: str = _PACKAGE_ROOT) -> bool:
    """Whether the library built from the sources on disk now is present."""

    base = os.path.join(root, library_name(source_digest(root)) + "__mypyc")
    return any(os.path.exists(base + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)


class _SourcesFirst:
    """A meta path finder that loads :data:`MODULES` from their ``.py`` files."""

    def __init__(self, root: str) -> None:
        self._root = root

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(name, source_path(name, self._root))


def select(root: str = _PACKAGE_ROOT) -> bool:
    """Decide once per process whether the compiled modules run; returns whether they do."""

    compiled = [_extension_beside(module, root) for module in MODULES]
    if not any(compiled):
        return False  # nothing compiled: the sources are all there is
    if all(compiled) and os.environ.get(PURE_VARIABLE) != "1" and built(root):
        return True
    sys.meta_path.insert(0, _SourcesFirst(root))
    return False
