"""``--recheck``: resume data ignored, every piece on disk hashed again.

Resume data trusts a file whose size and mtime are as saved, which is what
makes a restart cheap, and also what lets a change that restores the mtime go
unseen. These tests make such a change and show both sides: without
``--recheck`` the damaged piece is trusted; with it, the piece is found bad and
fetched again (``download``) or seeding is refused (``seed``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bitswarm.aio.torrent_open import default_state_dir
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.resume import restore, save_resume, snapshot
from cli.helpers import Run
from cli.peers import download, make_content, same_files, seeding, spawn
from torrent_content import flip_byte


def _damage_keeping_stat(path: Path, offset: int) -> None:
    """Flip one byte of ``path``, then put its mtime back: size and mtime as they were."""
    before = path.stat()
    flip_byte(path, offset)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_mtime_ns == before.st_mtime_ns


def test_download_recheck_finds_a_damaged_piece_and_fetches_it_again(tmp_path: Path) -> None:
    torrent, torrent_file = make_content(tmp_path / "seed")
    out = tmp_path / "out"
    with seeding(torrent_file, tmp_path / "seed") as port:
        first = spawn(*download(str(torrent_file), out, port))
        _, stderr = first.communicate(timeout=60)
        assert first.returncode == 0, stderr
        _damage_keeping_stat(out / "content" / "a.bin", 3 * torrent.piece_length + 7)

        trusting = spawn(*download(str(torrent_file), out, port))
        stdout, stderr = trusting.communicate(timeout=60)
        assert trusting.returncode == 0, stderr
        assert json.loads(stdout)["downloaded"] == 0  # the resume data vouched for piece 3
        assert not same_files(torrent, tmp_path / "seed", out)

        checking = spawn(*download(str(torrent_file), out, port, "--recheck"))
        stdout, stderr = checking.communicate(timeout=60)
    assert checking.returncode == 0, stderr
    record = json.loads(stdout)
    assert record["complete"] is True
    assert torrent.piece_length <= record["downloaded"] < 2 * torrent.piece_length
    assert same_files(torrent, tmp_path / "seed", out)


def test_seed_recheck_refuses_content_damaged_behind_the_resume_data(
    run: Run, tmp_path: Path
) -> None:
    torrent, torrent_file = make_content(tmp_path / "seed")
    root = tmp_path / "seed"
    state = default_state_dir(root)
    every = Bitfield.from_indices(torrent.piece_count, range(torrent.piece_count))
    save_resume(state, snapshot(torrent, root, every))
    _damage_keeping_stat(root / "content" / "sub" / "b.bin", 5)
    assert restore(torrent, root, state).all()  # what a plain ``seed`` would trust

    result = run(
        "seed", str(torrent_file), str(root), "--bind", "127.0.0.1", "--port", "0", "--recheck"
    )
    assert result.exit_code == 1, result.output
    last = result.stderr.splitlines()[-1]
    assert f"only {torrent.piece_count - 1} of {torrent.piece_count} pieces are good" in last
