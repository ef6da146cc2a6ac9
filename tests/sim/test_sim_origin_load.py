"""What the origin sends in a flash crowd: the seed's policies keep it near one copy.

Small deterministic runs (20 downloaders, 16 one-MiB pieces, the simulator's
defaults otherwise); the bounds sit above today's figures and below what the
swarm did when every peer granted a BEP 6 allowed-fast set.
"""

from __future__ import annotations

import dataclasses

from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.sim.report import Report, make_report
from bitswarm.sim.scenarios import Scenario, build
from bitswarm.sim.simulation import Simulation

MIB = 2**20


def flash_crowd(seed: int, config: SwarmConfig | None = None) -> Scenario:
    scenario = build("flash", peers=20, size=16 * MIB, origin_up=MIB, peer_up=MIB, seed=seed)
    peers = tuple(dataclasses.replace(spec, config=config) for spec in scenario.peers)
    return dataclasses.replace(scenario, peers=peers)


def report(scenario: Scenario) -> Report:
    simulation = Simulation(scenario)
    assert simulation.run(), "the flash crowd did not finish"
    return make_report(simulation, 0.0)


def test_origin_upload_and_completion_stay_under_a_bound() -> None:
    result = report(flash_crowd(seed=0))
    assert result.finished == 20
    assert result.origin_upload_ratio <= 3.0  # 4.2 with allowed-fast sets from everyone
    assert result.max_ratio <= 3.0


def test_allowed_fast_grants_cost_the_origin_copies() -> None:
    """Peers serving every newcomer ten pieces: the origin sends more, everyone ends later."""

    seeds = range(2)
    default = [report(flash_crowd(seed)) for seed in seeds]
    config = SwarmConfig(allowed_fast_count=10)
    granting = [report(flash_crowd(seed, config)) for seed in seeds]
    origin = [sum(r.origin_upload_ratio for r in runs) for runs in (default, granting)]
    median = [sum(r.median_ratio for r in runs) for runs in (default, granting)]
    assert origin[1] > origin[0] * 1.15
    assert median[1] > median[0] * 1.15
