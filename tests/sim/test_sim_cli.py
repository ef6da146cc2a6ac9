"""``bitswarm sim``: figures as lines or one JSON object, the PNG, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_lines_name_each_figure_with_its_goal() -> None:
    status, out, _ = invoke(*SMALL, "--scenario", "freeriders")
    assert status == 0
    names = [line.split(":")[0] for line in out.splitlines()]
    for name in ("t_min", "median_ratio", "max_ratio", "origin_upload_ratio", "events"):
        assert name in names
    assert "free_rider_penalty" in names
    assert "(goal <= 1.15)" in out


def test_a_run_cut_short_exits_1() -> None:
    status, out, _ = invoke(*SMALL, "--time-limit", "0.5", "--json")
    assert status == 1
    assert json.loads(out)["finished"] == 0


def test_bad_input_is_one_line_and_status_2() -> None:
    status, _, err = invoke("sim", "--size", "0")
    assert status == 2 and "--size must be positive" in err
    status, _, err = invoke("sim", "--piece-length", "20000")
    assert status == 2 and "piece length 20000" in err
    status, _, _ = invoke("sim", "--scenario", "stampede")
    assert status == 2
