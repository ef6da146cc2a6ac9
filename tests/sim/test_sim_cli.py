"""``bitswarm sim``: figures as lines or one JSON object, the PNG, and bad input refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitswarm.cli.main import main

SMALL = ["sim", "--peers", "6", "--size", "1MiB", "--piece-length", "256KiB", "--seed", "3"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_json_holds_the_figures_of_the_run(tmp_path: Path) -> None:
    plot = tmp_path / "swarm.png"
    status, out, _ = invoke(*SMALL, "--scenario", "mixed", "--json", "--plot", str(plot))
    assert status == 0
    report = json.loads(out)
    # N F / (u_s + sum u_i): half of the six upload a fifth of 1 MiB/s
    assert report["t_min"] == 6 / (1 + 3 * 0.2 + 3)
    assert report["peers"] == report["finished"] == 6
    assert 1.0 <= report["median_ratio"] <= report["p95_ratio"] <= report["max_ratio"]
    assert report["origin_upload_ratio"] >= 1.0
    assert report["events"] > 0 and report["wall_seconds"] > 0
    assert len(report["completion_times"]) == 6
    assert len(report["utilisation_by_quarter"]) == 4
    assert all(0 < value <= 1.0 + 1e-9 for value in report["utilisation_by_quarter"])
    series = report["utilisation_series"]  # blocks count when written: a short interval may top 1
    assert series and all(used >= 0 for _, used in series)
    assert [time for time, _ in series] == sorted(time for time, _ in series)
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_lines_name_each_figure_with_its_goal() -> None:
    status, out, _ = invoke(*SMALL, "--scenario", "freeriders")
    assert status == 0
    names = [line.split(":")[0] for line in out.splitlines()]
    for name in ("t_min", "median_ratio", "max_ratio", "origin_upload_ratio", "events"):
        assert name in names
    assert "free_rider_penalty" in names
    assert "utilisation_by_quarter" in names
    assert "(goal <= 1.15)" in out


def test_a_run_cut_short_exits_1() -> None:
    status, out, _ = invoke(*SMALL, "--time-limit", "0.5", "--json")
    assert status == 1
    report = json.loads(out)
    assert report["finished"] == 0
    # nobody finished: no ratio can be claimed (infinitely late, null in JSON)
    assert report["median_ratio"] is None and report["max_ratio"] is None


def test_plots_without_matplotlib_are_refused_before_the_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.delitem(sys.modules, "bitswarm.sim.plots", raising=False)
    plot = tmp_path / "swarm.png"
    status, out, err = invoke(*SMALL, "--plot", str(plot))
    assert status == 2 and out == ""
    assert "--plot needs matplotlib" in err and "bitswarm[sim]" in err
    assert not plot.exists()


def test_a_plot_that_cannot_be_written_is_one_line_and_status_2(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "swarm.png"
    status, _, err = invoke(*SMALL, "--plot", str(target))
    assert status == 2
    assert f"cannot write {target}" in err


def test_bad_input_is_one_line_and_status_2() -> None:
    status, _, err = invoke("sim", "--size", "0")
    assert status == 2 and "--size must be positive" in err
    status, _, err = invoke("sim", "--piece-length", "20000")
    assert status == 2 and "piece length 20000" in err
    status, _, _ = invoke("sim", "--scenario", "stampede")
    assert status == 2
    status, _, err = invoke(*SMALL, "--block-size", "20KiB")
    assert status == 2 and "block size 20480 must be a positive multiple of 16384" in err
    status, _, err = invoke(*SMALL, "--exact", "--block-size", "256KiB")
    assert status == 2 and "exact path encodes real wire messages" in err
    assert len(err.strip().splitlines()) == 1


def test_coarse_blocks_are_named_in_the_figures() -> None:
    status, out, _ = invoke(*SMALL, "--block-size", "256KiB", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["block_size"] == 256 * 1024 and report["finished"] == 6
    status, out, _ = invoke(*SMALL)
    assert "block_size: 16 KiB" in out.splitlines()
