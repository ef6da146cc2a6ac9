"""``download --only/--skip/--sequential``: some files of a torrent, then the rest.

The sample torrent (cli.peers.CONTENT, 32 KiB pieces) lists a.bin, c.txt,
sub/b.bin and sub/empty; a.bin's last piece also holds all of c.txt and the
start of sub/b.bin, so fetching sub/ fetches that piece too.
"""

from __future__ import annotations

import json
from pathlib import Path

from bitswarm.core.layout import Layout
from cli.helpers import Run, assert_one_error_line
from cli.peers import download, make_content, same_files, seeding, spawn


def test_only_downloads_the_named_files_and_a_later_run_the_rest(tmp_path: Path) -> None:
    torrent, torrent_file = make_content(tmp_path / "seed")
    out = tmp_path / "out"
    paths = ["/".join(entry.path) for entry in torrent.files]
    layout = Layout.of(torrent)
    pieces = layout.file_pieces(paths.index("content/sub/b.bin"))
    wanted = sum(layout.piece_size(piece) for piece in pieces)
    with seeding(torrent_file, tmp_path / "seed") as port:
        child = spawn(*download(str(torrent_file), out, port, "--only", "sub/*"))
        stdout, stderr = child.communicate(timeout=60)
        assert child.returncode == 0, stderr
        record = json.loads(stdout)
        assert record["complete"] is True and record["size"] == wanted
        assert wanted <= record["downloaded"] < torrent.total_size
        files = {entry["path"]: (entry["wanted"], entry["complete"]) for entry in record["files"]}
        assert files == {
            "content/a.bin": (False, False),
            "content/c.txt": (False, True),  # inside the piece sub/b.bin shares with a.bin
            "content/sub/b.bin": (True, True),
            "content/sub/empty": (True, True),
        }
        seed_sub, out_sub = tmp_path / "seed" / "content" / "sub", out / "content" / "sub"
        assert (out_sub / "b.bin").read_bytes() == (seed_sub / "b.bin").read_bytes()
        assert (out_sub / "empty").stat().st_size == 0
        assert not same_files(torrent, tmp_path / "seed", out)

        rest = spawn(*download(str(torrent_file), out, port, "--sequential"))
        stdout, stderr = rest.communicate(timeout=60)
    assert rest.returncode == 0, stderr
    record = json.loads(stdout)
    assert record["size"] == torrent.total_size and "files" not in record
    assert record["downloaded"] <= torrent.total_size - wanted  # sub/ was kept
    assert same_files(torrent, tmp_path / "seed", out)


def test_a_pattern_that_matches_no_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    _, torrent_file = make_content(tmp_path / "seed")
    out = tmp_path / "out"
    assert_one_error_line(
        run("download", str(torrent_file), "-o", str(out), "--only", "*.bin", "--only", "*.iso"),
        "--only: '*.iso' matches no file in the torrent",
    )
    assert_one_error_line(
        run("download", str(torrent_file), "-o", str(out), "--skip", "sub/b.bin/"),
        "--skip: 'sub/b.bin/' matches no file in the torrent",
    )
    assert_one_error_line(
        run("download", str(torrent_file), "-o", str(out), "--skip", "*"),
        "--only/--skip: the selection leaves no file to download",
    )
    assert not out.exists()  # refused before anything was made


def test_a_selection_of_only_an_empty_file_creates_it(tmp_path: Path) -> None:
    """Nothing to fetch: the download is complete at once, and the empty file exists."""
    _, torrent_file = make_content(tmp_path / "seed")
    out = tmp_path / "out"
    with seeding(torrent_file, tmp_path / "seed") as port:
        child = spawn(*download(str(torrent_file), out, port, "--only", "sub/empty"))
        stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    record = json.loads(stdout)
    assert record["complete"] is True and record["downloaded"] == 0
    files = {entry["path"]: (entry["wanted"], entry["complete"]) for entry in record["files"]}
    assert files["content/sub/empty"] == (True, True)
    assert (out / "content" / "sub" / "empty").stat().st_size == 0
    assert not (out / "content" / "a.bin").exists()
