"""The real program, ``python -m bitswarm``, in a child process: exit codes and streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bitswarm
from bitswarm.core.metainfo import parse_torrent

SRC = Path(bitswarm.__file__).parents[1]


def bitswarm_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "bitswarm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_info_verify_and_bad_input(album: Path) -> None:
    cwd = album.parent
    created = bitswarm_run("create", "album", "--hybrid", "-t", "http://127.0.0.1:1/a", cwd=cwd)
    assert created.returncode == 0, created.stderr
    torrent = parse_torrent((cwd / "album.torrent").read_bytes())
    assert torrent.info_hash_v1 is not None and torrent.info_hash_v2 is not None

    info = bitswarm_run("info", "album.torrent", "--json", cwd=cwd)
    assert info.returncode == 0, info.stderr
    record = json.loads(info.stdout)
    assert record["info_hash_v1"] == torrent.info_hash_v1.hex()
    assert record["info_hash_v2"] == torrent.info_hash_v2.hex()
    assert record["trackers"] == [["http://127.0.0.1:1/a"]]

    assert bitswarm_run("verify", "album.torrent", ".", cwd=cwd).returncode == 0
    data = bytearray((album / "one.bin").read_bytes())
    data[-1] ^= 0x80
    (album / "one.bin").write_bytes(bytes(data))
    damaged = bitswarm_run("verify", "album.torrent", ".", cwd=cwd)
    assert damaged.returncode == 1
    assert "damaged" in damaged.stdout

    for args, fragment in [
        (("info", "magnet:?xt=urn:btih:xyz"), "magnet link: xt:"),
        (("info", "album/one.bin"), "not a valid torrent"),
        (("create", "album", "--piece-size", "huge"), "--piece-size"),
        (("verify", "album.torrent", "elsewhere"), "no such folder"),
    ]:
        bad = bitswarm_run(*args, cwd=cwd)
        assert bad.returncode == 2, (args, bad.stderr)
        assert bad.stderr.count("\n") == 1, bad.stderr
        assert bad.stderr.startswith("bitswarm: error: ") and fragment in bad.stderr
        assert bad.stdout == ""
