"""``bitswarm tracker`` as a child process, for tests of real processes and workers.

Imported by name (``from tracker_processes import ...``) from any test folder.
The child runs this checkout's sources (``PYTHONPATH``), talks only to
127.0.0.1, and is killed by :func:`running_tracker` if a test leaves it up.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import bitswarm
import free_ports
from bitswarm.core.bencode import decode

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
    return free_ports.free_port(udp=True)


@contextmanager
def running_tracker(port: int, *args: str, workers: int = 1) -> Iterator[subprocess.Popen[str]]:
    """A tracker on 127.0.0.1:``port`` (HTTP, UDP) once every worker answers; SIGTERM at the end."""
    where = f"127.0.0.1:{port}"
    process = spawn("--http", where, "--udp", where, "--workers", str(workers), *args)
    try:
        wait_until_serving(port, process, workers)
        yield process
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=20)
        assert process.returncode == 0, rest
        assert "Traceback" not in rest, rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def announce_over_http(
    port: int,
    peer: int,
    *,
    info_hash: bytes = b"\x01" * 20,
    path: str = "/announce",
    source: str = "127.0.0.1",
) -> dict[bytes, object]:
    """The decoded reply to leecher ``peer``'s announce, on its own connection from ``source``."""
    query = (
        f"info_hash={quote_from_bytes(info_hash, safe='')}"
        f"&peer_id={quote_from_bytes(b'-BS0100-%012d' % peer, safe='')}"
        f"&port={7000 + peer}&uploaded=0&downloaded=0&left=1"
    )
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(source, 0)
    )
    try:
        connection.request("GET", f"{path}?{query}", headers={"Connection": "close"})
        reply = decode(connection.getresponse().read())
    finally:
        connection.close()
    assert isinstance(reply, dict)
    return dict(reply)


def stats(port: int) -> dict[str, Any]:
    """``/stats`` over a fresh connection (so with workers, from whichever the kernel picks)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        document: dict[str, Any] = json.load(response)
    return document


def wait_until_serving(
    port: int, process: subprocess.Popen[str], workers: int = 1, seconds: float = 20
) -> None:
    """Return once ``/stats`` has answered from each worker; fail if the process exits first."""
    deadline = time.monotonic() + seconds
    seen: set[object] = set()
    while True:
        try:
            seen.add(stats(port).get("worker"))
            if workers == 1 or seen >= set(range(workers)):
                return
        except (OSError, urllib.error.URLError):
            if process.poll() is not None:
                raise AssertionError(f"tracker exited: {process.communicate()[1]}") from None
        if time.monotonic() > deadline:
            raise AssertionError(f"not every worker answered within {seconds} s: {seen}")
        time.sleep(0.05)
