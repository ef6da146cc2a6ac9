"""``bitswarm demo``: creates, shows and verifies a sample torrent, and catches a flipped byte."""

from __future__ import annotations

import json
from pathlib import Path

from bitswarm.cli.demo import SAMPLE_NAME, write_sample
from bitswarm.storage.create import create_torrent
from cli.helpers import Run, assert_one_error_line

SIZE = 1024 * 1024 + 123


def test_json_report(run: Run, tmp_path: Path) -> None:
    result = run("demo", "--size", str(SIZE), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sample = tmp_path / SAMPLE_NAME
    write_sample(sample, SIZE)
    expected = create_torrent(sample, version="v1")
    assert expected.info_hash_v1 is not None
    torrent = report["torrent"]
    assert torrent["info_hash_v1"] == expected.info_hash_v1.hex()
    assert torrent["info_hash_v2"] is None
    assert torrent["total_size"] == SIZE
    assert torrent["files"] == [{"path": SAMPLE_NAME, "length": SIZE}]
    assert report["ok"] is True
    assert report["verify"]["ok"] is True
    assert report["verify"]["pieces"]["good"] == expected.piece_count
    assert report["after_flip"]["ok"] is False
    assert report["after_flip"]["bad_pieces"] == [report["flipped_byte"] // expected.piece_length]


def test_text_says_what_it_did(run: Run) -> None:
    result = run("demo", "--size", "256KiB")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"name: {SAMPLE_NAME}" in lines
    assert any(line.startswith("magnet: magnet:?xt=urn:btih:") for line in lines)
    assert any(line.startswith("verify: ") and line.endswith("all good") for line in lines)
    assert lines[-1].startswith("demo: the damage was caught in piece ")


def test_bad_sizes(run: Run) -> None:
    assert_one_error_line(run("demo", "--size", "lots"), "not a size: 'lots'")
    assert_one_error_line(run("demo", "--size", "0"), "--size: between 1 byte and 4 GiB")
    assert_one_error_line(run("demo", "--size", "5GiB"), "--size: between 1 byte and 4 GiB")
