"""Peers as child processes for the command-line tests: ``bitswarm seed`` and ``download``.

Sample content (a multi-file torrent with an empty file), a seed running on
127.0.0.1 until Ctrl-C, the arguments of a download from it, and a byte-exact
comparison of two copies.
"""

from __future__ import annotations

import filecmp
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bitswarm
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.create import create_torrent
from free_ports import free_port

SRC = Path(bitswarm.__file__).parents[1]
KIB = 1024
CONTENT = {"a.bin": 700 * KIB + 5, "sub/b.bin": 300 * KIB, "sub/empty": 0, "c.txt": 999}


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bitswarm", *args],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def make_content(
    root: Path, scale: int = 1, trackers: tuple[str, ...] = ()
) -> tuple[Torrent, Path]:
    for index, (name, size) in enumerate(CONTENT.items()):
        path = root / "content" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size * scale) if index < 3 else bytes(size))
    torrent = create_torrent(
        root / "content", version="v1", piece_length=32 * KIB, trackers=trackers
    )
    (root / "t.torrent").write_bytes(torrent.to_bytes())
    return torrent, root / "t.torrent"


@contextmanager
def seeding(torrent_file: Path, data: Path, *extra: str) -> Iterator[int]:
    """A ``bitswarm seed`` child on 127.0.0.1; yields its port; Ctrl-C ends it with status 0."""
    port = free_port()
    child = spawn(
        "seed", str(torrent_file), str(data), "--bind", "127.0.0.1", "--port", str(port), *extra
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()
        yield port
    finally:
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        assert child.returncode == 0, err


def download(torrent: str, out: Path, seed_port: int, *extra: str) -> list[str]:
    return [
        "download",
        torrent,
        "-o",
        str(out),
        "--bind",
        "127.0.0.1",
        "--port",
        str(free_port()),
        "--peer",
        f"127.0.0.1:{seed_port}",
        "--json",
        *extra,
    ]


def same_files(torrent: Torrent, left: Path, right: Path) -> bool:
    names = ["/".join(entry.path) for entry in torrent.files]
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    return not mismatch and not errors
