"""``bitswarm tracker`` as a child process, for tests of real processes and workers.

Imported by name (``from tracker_processes import ...``) from any test folder.
The child runs this checkout's sources (``PYTHONPATH``), talks only to
127.0.0.1, and is killed by :func:`running_tracker` if a test leaves it up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bitswarm

SRC = Path(bitswarm.__file__).parents[1]


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``bitswarm tracker ARGS``, its stdout and stderr piped as text."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-m", "bitswarm", "tracker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (for ``--workers``, which needs one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))  # the UDP port of the same number is free too
    return port


@contextmanager
def running_tracker(port: int, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A tracker on 127.0.0.1:``port`` (HTTP and UDP), once it answers; SIGTERM at the end."""
    where = f"127.0.0.1:{port}"
    process = spawn("--http", where, "--udp", where, *args)
    try:
        wait_until_serving(port, process)
        yield process
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
        assert process.returncode == 0, rest
        assert "Traceback" not in rest, rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until_serving(port: int, process: subprocess.Popen[str], seconds: float = 20) -> None:
    """Return once ``/stats`` answers on ``port``; fail if the process exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5):
                return
        except (OSError, urllib.error.URLError):
            if process.poll() is not None:
                raise AssertionError(f"tracker exited: {process.communicate()[1]}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
