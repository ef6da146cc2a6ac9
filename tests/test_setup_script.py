"""scripts/setup.sh on a fresh Debian machine, played by stand-in programs.

The script runs in a copy of the project's ``scripts/`` folder with ``PATH``
led by stand-ins for ``python3``, ``dpkg-query``, ``apt-get``, ``id`` and
``systemctl``. They record their calls; the stand-in ``python3`` cannot make a
virtual environment until the stand-in ``apt-get`` has installed
python3-venv, as Debian's python3 cannot (it lacks ensurepip).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "setup.sh"
PIP_INSTALL = "venv -m pip install -q --disable-pip-version-check -e"
COMPILE = "venv -m compileall -q src"
"""The last call: the sources byte-compiled once installed."""

STAND_INS = {
    "id": "echo 0\n",
    "systemctl": 'echo "systemctl $*" >> "$LOG"\n',
    "dpkg-query": (
        'for pkg; do :; done\n[ -e "$INSTALLED/$pkg" ] && printf "install ok installed"\nexit 0\n'
    ),
    "apt-get": (
        'echo "apt-get $*" >> "$LOG"\n'
        'if [ "$1" = install ]; then\n'
        '    for pkg; do case "$pkg" in -*|install) ;; *) touch "$INSTALLED/$pkg" ;; esac; done\n'
        "fi\n"
    ),
    "python3": (
        'echo "python3 $*" >> "$LOG"\n'
        "mkdir -p .venv/bin\n"
        'cp "$STAND_INS/venv-python" .venv/bin/python\n'
        'if [ -e "$INSTALLED/python3-venv" ]; then touch .venv/pip; exit 0; fi\n'
        'echo "ensurepip is not available" >&2\n'
        "exit 1\n"
    ),
    "venv-python": (
        'if [ "$2 $3" = "pip --version" ]; then [ -e .venv/pip ]; exit; fi\n'
        'echo "venv $*" >> "$LOG"\n'
    ),
}


class Machine:
    """A project folder and stand-in programs; :meth:`setup` runs the script there."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project"
        (self.project / "scripts").mkdir(parents=True)
        shutil.copy(SCRIPT, self.project / "scripts" / "setup.sh")
        self.bin = root / "bin"
        self.bin.mkdir()
        for name, body in STAND_INS.items():
            path = self.bin / name
            path.write_text("#!/bin/sh\n" + body)
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.installed = root / "installed"
        self.installed.mkdir()
        self.log = root / "log"

    def install(self, *packages: str) -> None:
        for package in packages:
            (self.installed / package).touch()

    def setup(self, mode: str) -> list[str]:
        """Run ``setup.sh mode``; returns the calls the stand-ins recorded."""
        self.log.write_text("")
        environment = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "LOG": str(self.log),
            "INSTALLED": str(self.installed),
            "STAND_INS": str(self.bin),
            "HOME": str(self.project),
        }
        result = subprocess.run(
            ["bash", str(self.project / "scripts" / "setup.sh"), mode],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        return self.log.read_text().splitlines()


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    return Machine(tmp_path)


def installs(calls: list[str]) -> set[str]:
    packages: set[str] = set()
    for call in calls:
        words = call.split()
        if words[:2] == ["apt-get", "install"]:
            packages.update(word for word in words[2:] if not word.startswith("-"))
    return packages


def test_run_installs_python3_venv_when_the_venv_cannot_be_made(machine: Machine) -> None:
    calls = machine.setup("run")
    assert installs(calls) == {"python3-venv"}
    assert calls.count("python3 -m venv --clear .venv") == 2
    assert calls[-2:] == [f"{PIP_INSTALL} .", COMPILE]


def test_run_installs_nothing_when_the_venv_can_be_made(machine: Machine) -> None:
    machine.install("python3-venv")
    calls = machine.setup("run")
    assert not any(call.startswith("apt-get") for call in calls)
    assert calls[-2:] == [f"{PIP_INSTALL} .", COMPILE]


def test_test_installs_the_namespace_tools_and_the_third_party_programs(machine: Machine) -> None:
    calls = machine.setup("test")
    wanted = {"iproute2", "util-linux", "python3-venv", "opentracker", "aria2", "mktorrent"}
    assert wanted <= installs(calls)
    assert {"transmission-cli", "transmission-daemon", "redis-server"} <= installs(calls)
    assert calls.count("apt-get update -qq") == 1
    assert calls[-2:] == [f"{PIP_INSTALL} .[test,bench,dev,speed,redis]", COMPILE]


def test_a_second_run_installs_nothing(machine: Machine) -> None:
    machine.setup("test")
    again = machine.setup("test")
    assert not any(call.startswith(("apt-get", "systemctl", "python3")) for call in again)
    assert again == [f"{PIP_INSTALL} .[test,bench,dev,speed,redis]", COMPILE]


def test_the_script_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)
