"""The mypyc build of the swarm core and the simulator: used when it matches the sources, never
when they changed since, and never half.

CI builds it (``pip install -e .``) and runs the whole suite on it, then the core's and
the simulator's suites again on the sources with ``BITSWARM_PURE_PYTHON=1``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bitswarm
from bitswarm import native
from bitswarm_testing import missing

SRC = Path(native.__file__).resolve().parents[1]
EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]
PROBE = (
    "import bitswarm, bitswarm.core.swarm.torrent as t, bitswarm.sim.engine as e; "
    "print(bitswarm.NATIVE, t.__file__.endswith('.py'), e.__file__.endswith('.py'))"
)
"""Prints whether the build runs, and whether a core and a simulator module came from source."""
WALL_CLOCK = {"wall_seconds", "events_per_second"}
"""The figures of a simulation report that are not the swarm's."""


def _probe(src: Path, **environment: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_VARIABLE}
    env |= {"PYTHONPATH": str(src), **environment}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def _require_build() -> None:
    if not native.built():
        missing("the mypyc build of bitswarm's core is absent or stale", "pip install -e .")


def test_every_listed_module_comes_from_the_one_kind_of_file_the_choice_names() -> None:
    for name in native.MODULES:
        path = importlib.import_module(name).__file__
        assert path is not None
        assert path.endswith(".py") is not bitswarm.NATIVE, name


def test_the_build_runs_unless_told_not_to() -> None:
    _require_build()
    assert bitswarm.NATIVE is (os.environ.get(native.PURE_VARIABLE) != "1")


def test_a_copy_of_the_build_runs_until_one_source_changes(tmp_path: Path) -> None:
    _require_build()
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    assert _probe(copy) == "True False False"
    assert _probe(copy, **{native.PURE_VARIABLE: "1"}) == "False True True"
    with open(native.source_path("bitswarm.sim.engine", str(copy)), "a") as source:
        source.write("# edited after the build\n")
    assert _probe(copy) == "False True True"  # all from source, the unedited torrent too


def _extension(root: Path, module: str) -> Path:
    return Path(native.source_path(module, str(root))).with_suffix(EXTENSION)


def _fake_tree(root: Path) -> None:
    """Sources of every listed module (a line each), each with a compiled twin."""

    for name in native.MODULES:
        path = Path(native.source_path(name, str(root)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"NAME = {name!r}\n")
        _extension(root, name).touch()


def _select(root: Path) -> tuple[bool, object]:
    """:func:`native.select` on ``root``; the finder it added, if any, taken out again."""

    before = list(sys.meta_path)
    chosen = native.select(str(root))
    added = [finder for finder in sys.meta_path if finder not in before]
    sys.meta_path[:] = before
    assert len(added) <= 1
    return chosen, added[0] if added else None


def test_select_decides_from_the_library_named_after_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    _fake_tree(tmp_path)
    digest = native.source_digest(str(tmp_path))
    library = tmp_path / (native.library_name(digest) + "__mypyc" + EXTENSION)

    chosen, finder = _select(tmp_path)  # an extension, but no library: sources first
    assert not chosen and finder is not None
    spec = finder.find_spec(native.MODULES[-1], None)  # type: ignore[attr-defined]
    assert spec.origin == native.source_path(native.MODULES[-1], str(tmp_path))
    assert finder.find_spec("bitswarm.core.bencode", None) is None  # type: ignore[attr-defined]

    library.touch()
    assert _select(tmp_path) == (True, None)
    _extension(tmp_path, native.MODULES[5]).unlink()  # a build that half failed
    assert _select(tmp_path)[0] is False
    _extension(tmp_path, native.MODULES[5]).touch()
    monkeypatch.setenv(native.PURE_VARIABLE, "1")
    assert _select(tmp_path)[0] is False
    monkeypatch.delenv(native.PURE_VARIABLE)

    Path(native.source_path(native.MODULES[3], str(tmp_path))).write_text("NAME = 'edited'\n")
    assert native.source_digest(str(tmp_path)) != digest
    assert _select(tmp_path)[0] is False


def test_nothing_compiled_needs_no_finder(tmp_path: Path) -> None:
    _fake_tree(tmp_path)
    for name in native.MODULES:
        _extension(tmp_path, name).unlink()
    assert _select(tmp_path) == (False, None)


def test_the_build_and_the_sources_simulate_the_same_swarm() -> None:
    """The simulator is deterministic: both builds must give every figure alike, to the bit."""

    _require_build()
    command = [sys.executable, "-c", "from bitswarm.cli.main import main; main()"]
    command += ["sim", "--json", "--seed", "3"]
    command += ["--peers", "20", "--size", "8MiB", "--piece-length", "256KiB"]
    command += ["--scenario", "mixed"]
    reports = []
    for pure in ("0", "1"):
        env = {**os.environ, native.PURE_VARIABLE: pure}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        report = json.loads(result.stdout)
        reports.append({k: v for k, v in report.items() if k not in WALL_CLOCK})
    assert reports[0]["finished"] == 20
    assert reports[0] == reports[1]
