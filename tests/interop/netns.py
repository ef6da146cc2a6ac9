"""Run a test inside a network namespace that has only ``lo`` (DESIGN.md's network rule).

A test marked ``@pytest.mark.netns`` is run again by ``conftest.py`` in a child
``pytest`` under ``unshare --net`` (Linux, as root) after ``ip link set lo up``;
the child finds :data:`INSIDE` set and runs the body, so the tracker, bitswarm
and every third-party client of that test share one 127.0.0.1 and nothing
can reach a real interface. Transmission needs this: at start it probes for a
global IPv6 address, which sends packets on the real interface.

The outer test passes when the child's test passed, is skipped with the
child's reason when it was skipped, and fails with the child's output
otherwise. A machine that cannot make the namespace skips the test with that
reason, or fails it when ``BITSWARM_REQUIRE_TOOLS`` is set, as CI does.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

INSIDE = "BITSWARM_IN_NETNS"
"""Set (to ``1``) in the environment of a process inside the namespace."""

_ENTER = 'ip link set lo up && exec "$@"'
INNER_MARGIN = 20.0
"""Seconds the child pytest's time-out leaves before the parent gives up on it."""


def inside() -> bool:
    return os.environ.get(INSIDE) == "1"


def command(argv: list[str]) -> list[str]:
    """``argv`` run in a fresh network namespace with ``lo`` up."""
    return ["unshare", "--net", "--", "sh", "-c", _ENTER, "sh", *argv]


@functools.cache
def unavailable() -> str | None:
    """Why a namespace cannot be made here, or ``None`` when it can."""
    for program in ("unshare", "ip"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    probe = subprocess.run(command(["true"]), capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"cannot make a network namespace: {probe.stderr.strip() or probe.returncode}"
    return None


def run_test(node_id: str, rootdir: Path, timeout: float) -> tuple[str, str]:
    """Run one test in a namespace; returns its outcome (passed, skipped, failed) and output."""
    environment = dict(os.environ, **{INSIDE: "1"})
    argv = [sys.executable, "-m", "pytest", node_id, "-q", "-rs", "-p", "no:cacheprovider"]
    # The child's own time-out fires first, so the test's clean-up stops its programs.
    argv += ["-o", f"timeout={max(timeout - INNER_MARGIN, 1):g}"]
    try:
        result = subprocess.run(
            command(argv),
            cwd=rootdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout if isinstance(expired.stdout, str) else ""
        return "failed", f"timed out after {timeout:g} s in the namespace\n{output}"
    output = result.stdout + result.stderr
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    if result.returncode == 0 and re.search(r"\b1 passed\b", summary):
        return "passed", output
    if result.returncode == 0 and re.search(r"\b1 skipped\b", summary):
        reason = re.search(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", output, re.MULTILINE)
        return "skipped", reason.group(1) if reason else output
    return "failed", output
