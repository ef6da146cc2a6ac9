"""The simulator against reality: a real loopback swarm (``bitswarm demo``) and its simulation.

Same parameters on both sides: one origin and six downloaders, a 4 MiB file
in the demo's 64 KiB pieces, every upload capped at 1 MiB/s, loopback
latency. The origin's upload is a byte count, so it is compared here: the
simulation must come within ``ORIGIN_TOLERANCE`` of the real swarm (measured
at this size: real 1.84 F, simulated 1.64-1.71 F over three seeds). Completion
times are printed by ``bench/sim_vs_real.py``, not asserted (tests never
assert timings); here both swarms are only held to the bound.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bitswarm.cli.demo import PIECE_LENGTH
from bitswarm.cli.main import main
from bitswarm.sim.scenarios import build
from bitswarm.sim.simulation import Simulation

MIB = 2**20
PEERS, SIZE, RATE = 6, 4 * MIB, MIB
LOOPBACK_LATENCY = 0.0001
ORIGIN_TOLERANCE = 0.3
"""Largest relative difference allowed between simulated and real origin upload."""


@pytest.mark.timeout(120)
def test_simulated_origin_upload_matches_a_real_loopback_swarm() -> None:
    args = ["demo", "--peers", str(PEERS), "--size", "4MiB"]
    args += ["--origin-up", "1MiB/s", "--peer-up", "1MiB/s", "--json"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    real = json.loads(result.stdout)
    assert real["byte_exact"] and real["delivered"] == PEERS * SIZE

    scenario = build(
        "flash",
        peers=PEERS,
        size=SIZE,
        origin_up=RATE,
        peer_up=RATE,
        piece_length=PIECE_LENGTH,
        latency=LOOPBACK_LATENCY,
    )
    simulation = Simulation(scenario)
    assert simulation.run()
    simulated = simulation.stats.origin_uploaded / SIZE
    measured = real["origin_uploaded"] / SIZE
    assert abs(simulated - measured) <= ORIGIN_TOLERANCE * measured, (simulated, measured)

    t_min = scenario.t_min()
    assert real["t_min"] == pytest.approx(t_min)
    assert real["seconds"] >= t_min * 0.999  # the real swarm cannot beat the bound either
    assert simulation.now >= t_min
