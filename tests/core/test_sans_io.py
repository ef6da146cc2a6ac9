"""DESIGN.md's rule of the house: importing the core loads no I/O or clock module."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import bitswarm.core

FORBIDDEN = {"asyncio", "socket", "selectors", "threading", "time", "aiohttp", "ssl", "select"}
SRC = Path(bitswarm.core.__file__).parents[2]


def test_core_imports_no_io_modules() -> None:
    modules = [m.name for m in pkgutil.walk_packages(bitswarm.core.__path__, "bitswarm.core.")]
    assert "bitswarm.core.bencode" in modules
    program = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "import importlib, json\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    # -S: no site hooks, so nothing but the core's own imports can load a module.
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program], check=True, capture_output=True, text=True
    ).stdout
    loaded = set(json.loads(out))
    assert "bitswarm.core.bencode" in loaded
    assert not (FORBIDDEN & loaded), sorted(FORBIDDEN & loaded)


def test_core_sources_import_no_io_modules() -> None:
    """``time`` is loaded by every interpreter at start-up, so also read the sources."""

    offenders = []
    for path in Path(bitswarm.core.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders
