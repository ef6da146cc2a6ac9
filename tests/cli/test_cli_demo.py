"""``bitswarm demo``: a real swarm on 127.0.0.1 whose figures must add up."""

from __future__ import annotations

import json

import pytest

from bitswarm.aio.demo_swarm import DemoPlan, lower_bound
from cli.helpers import Run, assert_one_error_line

MIB = 1024 * 1024


def test_small_swarm_json_is_consistent(run: Run) -> None:
    result = run("demo", "--peers", "3", "--size", "4MiB", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    size, peers = 4 * MIB, 3
    assert report["peers"] == peers and report["size"] == size
    assert report["delivered"] == peers * size
    assert report["byte_exact"] is True
    assert report["origin_uploaded"] >= size  # every byte left the origin once at least
    # Every delivered byte was uploaded by the origin or by another downloader.
    assert report["origin_uploaded"] + report["peer_uploaded"] >= report["delivered"]
    assert report["t_min"] == pytest.approx(lower_bound(size, DemoPlan(peers, 4 * MIB, 4 * MIB)))
    assert len(report["finish_times"]) == peers
    assert report["seconds"] == pytest.approx(max(report["finish_times"]))
    assert report["seconds"] > 0


def test_text_states_the_point(run: Run) -> None:
    result = run("demo", "--peers", "2", "--size", "1MiB", "--origin-up", "2MiB/s")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "swarm: 2 downloaders got 1 MiB each (2 MiB delivered, byte-exact)"
    assert lines[1].startswith("origin uploaded ") and "for 2 copies delivered" in lines[1]
    assert lines[2].startswith("time: ") and "lower bound T_min 0.5 s" in lines[2]
    assert "the origin alone would need 1.0 s" in lines[2]


def test_lower_bound_of_the_fluid_model() -> None:
    # Origin-bound: the origin must send one copy.
    assert lower_bound(100, DemoPlan(peers=2, origin_up=10, peer_up=100)) == 10
    # Upload-bound: 8 copies over the sum of all uploads.
    assert lower_bound(100, DemoPlan(peers=8, origin_up=10, peer_up=1)) == pytest.approx(800 / 18)
    assert lower_bound(100, DemoPlan(peers=8, origin_up=10, peer_up=0)) == 10
    assert lower_bound(100, DemoPlan(peers=8, origin_up=0, peer_up=5)) is None


def test_bad_options(run: Run) -> None:
    assert_one_error_line(run("demo", "--size", "lots"), "not a size: 'lots'")
    assert_one_error_line(run("demo", "--size", "0"), "--size: between 1 byte and 1 GiB")
    assert_one_error_line(run("demo", "--peers", "0"), "--peers")
