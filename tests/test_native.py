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
    "print(getattr(bitswarm, 'NATIVE', None), t.__file__.endswith('.py'), "
    "e.__file__.endswith('.py'))"
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
    if native.build_files() is None:
        missing("the mypyc build of bitswarm's core is absent or stale", "pip install -e .")


def test_every_listed_module_comes_from_the_one_kind_of_file_the_choice_names() -> None:
    for name in native.MODULES:
        path = importlib.import_module(name).__file__
        assert path is not None
        assert path.endswith(".py") is not bitswarm.NATIVE, name


def test_the_build_runs_unless_told_not_to() -> None:
    _require_build()
    assert bitswarm.NATIVE is (os.environ.get(native.PURE_VARIABLE) != "1")


def test_a_copy_of_the_build_runs_until_a_source_changes(tmp_path: Path) -> None:
    _require_build()
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    assert _probe(copy) == "True False False"
    assert _probe(copy, **{native.PURE_VARIABLE: "1"}) == "False True True"
    with open(copy / "bitswarm" / "core" / "wire" / "messages.py", "a") as source:
        source.write("# edited after the build: not compiled, but compiled against\n")
    assert _probe(copy) == "False True True"


def test_a_checkout_from_before_the_build_never_finds_it(tmp_path: Path) -> None:
    _require_build()
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (copy / "bitswarm" / "__init__.py").write_text('__version__ = "0"\n')  # no native.select
    assert _probe(copy) == "None True True"


def _fake_build(root: Path) -> Path:
    """Sources of every listed module (a line each) and an empty file for each compiled one;
    returns the build's library."""

    for name in native.MODULES:
        path = Path(native.source_path(name, str(root)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"NAME = {name!r}\n")
    folder = root / native.build_name(native.source_digest(str(root)))
    for name in native.MODULES:
        compiled = folder.joinpath(*name.split(".")).with_suffix(EXTENSION)
        compiled.parent.mkdir(parents=True, exist_ok=True)
        compiled.touch()
    library = folder / (folder.name + "__mypyc" + EXTENSION)
    library.touch()
    return library


def _select(root: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    """:func:`native.select` on ``root``, on a ``sys.meta_path`` of its own."""

    others = [f for f in sys.meta_path if not isinstance(f, native._BuildFinder)]
    monkeypatch.setattr(sys, "meta_path", others)
    chosen = native.select(str(root))
    finders = [f for f in sys.meta_path if isinstance(f, native._BuildFinder)]
    assert len(finders) == chosen
    if chosen:
        assert sys.meta_path[0] is finders[0]
        spec = finders[0].find_spec(native.MODULES[-1], None)
        assert spec is not None and spec.origin == str(
            root.joinpath(native.build_name(native.source_digest(str(root))))
            .joinpath(*native.MODULES[-1].split("."))
            .with_suffix(EXTENSION)
        )
        assert finders[0].find_spec("bitswarm.core.bencode", None) is None
    return chosen


def test_select_takes_a_complete_build_of_the_sources_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    library = _fake_build(tmp_path)
    assert _select(tmp_path, monkeypatch)
    assert native.select(str(tmp_path))  # chosen once: a reload adds no second finder
    assert sum(isinstance(f, native._BuildFinder) for f in sys.meta_path) == 1

    monkeypatch.setenv(native.PURE_VARIABLE, "1")
    assert not _select(tmp_path, monkeypatch)
    monkeypatch.delenv(native.PURE_VARIABLE)

    library.unlink()  # a build that half failed
    assert not _select(tmp_path, monkeypatch)
    library.touch()
    compiled = library.parent.joinpath(*native.MODULES[5].split(".")).with_suffix(EXTENSION)
    compiled.unlink()
    assert not _select(tmp_path, monkeypatch)
    compiled.touch()
    assert _select(tmp_path, monkeypatch)

    Path(native.source_path(native.MODULES[3], str(tmp_path))).write_text("NAME = 'edited'\n")
    assert not _select(tmp_path, monkeypatch)  # the build is of other sources now


def test_the_build_and_the_sources_simulate_the_same_swarm() -> None:
    """The simulator is deterministic: both builds must give every figure alike, to the bit."""

    _require_build()
    reports = []
    for pure in ("0", "1"):
        main = (
            "import bitswarm; from bitswarm.cli.main import main; "
            f"assert bitswarm.NATIVE is {pure == '0'}; main()"
        )
        command = [sys.executable, "-c", main, "sim", "--json", "--seed", "3", "--peers", "20"]
        command += ["--size", "8MiB", "--piece-length", "256KiB", "--scenario", "mixed"]
        env = {**os.environ, native.PURE_VARIABLE: pure}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        report = json.loads(result.stdout)
        reports.append({k: v for k, v in report.items() if k not in WALL_CLOCK})
    assert reports[0]["finished"] == 20
    assert reports[0] == reports[1]
