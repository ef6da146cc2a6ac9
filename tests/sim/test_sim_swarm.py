"""Whole simulated swarms: the two message paths agree, runs repeat, bytes add up, bounds hold."""

from __future__ import annotations

import dataclasses
import statistics

import pytest

from bitswarm.sim.peer import SimPeer
from bitswarm.sim.report import make_report
from bitswarm.sim.scenarios import SCENARIOS, PeerSpec, Scenario, build
from bitswarm.sim.simulation import Simulation

MIB = 2**20
TOLERANCE = 1e-9


def small(name: str, *, exact: bool = False, seed: int = 1, peers: int = 8) -> Scenario:
    return build(
        name,
        peers=peers,
        size=2 * MIB,
        origin_up=MIB,
        peer_up=MIB,
        piece_length=256 * 1024,
        seed=seed,
        exact=exact,
    )


def run(scenario: Scenario) -> Simulation:
    simulation = Simulation(scenario)
    assert simulation.run(), f"{scenario.name} did not finish"
    return simulation


def outcome(simulation: Simulation) -> list[tuple[float | None, int, int]]:
    return [(p.finished_at, p.payload_up, p.payload_down) for p in simulation.peers]


@pytest.mark.parametrize("name", ["flash", "mixed", "superseed"])
def test_exact_and_fast_paths_give_the_same_swarm(name: str) -> None:
    exact, fast = run(small(name, exact=True)), run(small(name))
    assert outcome(exact) == outcome(fast)
    assert exact.loop.events == fast.loop.events
    assert exact.stats.samples == fast.stats.samples


def test_the_same_seed_gives_the_same_report_and_another_seed_another() -> None:
    def figures(seed: int) -> dict[str, object]:
        simulation = run(small("poisson", seed=seed))
        report = make_report(simulation, wall_seconds=1.0).to_json()
        return {k: v for k, v in report.items() if k not in ("wall_seconds", "events_per_second")}

    first = figures(5)
    assert figures(5) == first
    assert figures(6)["completion_times"] != first["completion_times"]


def test_bytes_sent_are_bytes_received_and_finished_peers_hold_every_piece() -> None:
    simulation = run(small("flash", exact=True))
    simulation.settle(5.0)  # blocks still in flight (endgame duplicates) arrive
    peers = simulation.peers
    sent = sum(peer.payload_up for peer in peers)
    received = sum(peer.payload_down for peer in peers)
    assert sent == received + simulation.stats.dropped_payload
    assert sent == simulation.stats.uploaded_total
    content = simulation.content
    assert content is not None
    for peer in peers[1:]:
        assert peer.finished_at is not None and peer.swarm is not None
        assert peer.swarm.have.all()
        totals = peer.swarm.totals()
        assert totals.left == 0 and totals.uploaded == peer.payload_up
        disk = peer.disk
        assert hasattr(disk, "piece")
        length = simulation.scenario.piece_length
        for piece in range(simulation.geometry.piece_count):
            assert disk.piece(piece) == content[piece * length : (piece + 1) * length]


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_peer_beats_the_bound(name: str) -> None:
    simulation = run(small(name))
    scenario = simulation.scenario
    finishes = []
    for peer in simulation.peers[1:]:
        assert peer.finished_at is not None
        assert peer.finished_at >= scenario.earliest_finish(peer.spec) * (1 - TOLERANCE)
        finishes.append(peer.finished_at)
    if name != "poisson":  # everyone arrives at 0: the fluid bound holds the last finish
        assert max(finishes) >= scenario.t_min() * (1 - TOLERANCE)


def test_peers_that_leave_on_completion_leave_and_the_rest_still_finish() -> None:
    simulation = run(small("leave", peers=12))
    downloaders = simulation.peers[1:]
    assert all(p.left_at == p.finished_at for p in downloaders if p.left_at is not None)
    assert sum(p.left_at is not None for p in downloaders) >= len(downloaders) - 1
    assert len(simulation.tracker) <= 2  # the origin, and the last peer within its instant


def test_poisson_arrivals_are_spread_and_times_count_from_arrival() -> None:
    simulation = run(small("poisson", peers=10))
    arrivals = [p.spec.arrival for p in simulation.peers[1:]]
    assert arrivals == sorted(arrivals) and len(set(arrivals)) == len(arrivals)
    report = make_report(simulation, wall_seconds=1.0)
    for peer, time in zip(simulation.peers[1:], report.completion_times, strict=True):
        assert peer.finished_at is not None and peer.arrived_at is not None
        assert time == pytest.approx(peer.finished_at - peer.arrived_at)


def test_free_riders_upload_nothing_and_their_penalty_is_reported() -> None:
    simulation = run(small("freeriders", peers=10))
    riders = [p for p in simulation.peers if p.spec.free_rider]
    contributors = [p for p in simulation.peers[1:] if not p.spec.free_rider]
    assert riders and all(p.payload_up == 0 for p in riders)
    assert sum(p.payload_up for p in contributors) > 0
    report = make_report(simulation, wall_seconds=1.0)

    def median(peers: list[SimPeer]) -> float:
        return statistics.median((p.finished_at or 0.0) - p.spec.arrival for p in peers)

    assert report.free_rider_penalty == pytest.approx(median(riders) / median(contributors))


def test_super_seeding_spares_the_origin() -> None:
    plain, super_seeded = run(small("flash")), run(small("superseed"))
    size = plain.scenario.size
    assert super_seeded.stats.origin_uploaded < plain.stats.origin_uploaded
    assert super_seeded.stats.origin_uploaded >= size  # it still sent every piece once


def test_a_full_disk_stops_that_peer_and_the_swarm_goes_on() -> None:
    scenario = small("flash")
    peers = list(scenario.peers)
    peers[3] = dataclasses.replace(peers[3], disk_capacity=MIB // 2)
    simulation = run(dataclasses.replace(scenario, peers=tuple(peers)))
    broken = simulation.peers[3]
    assert broken.stopped is not None and "writing piece" in broken.stopped
    assert broken.finished_at is None and broken.swarm is None
    assert all(p.finished_at is not None for i, p in enumerate(simulation.peers[1:], 1) if i != 3)


def test_scenarios_refuse_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        build("stampede", peers=1, size=1, origin_up=1, peer_up=1)
    with pytest.raises(ValueError, match="origin"):
        Scenario("none", 10, 16384, (PeerSpec(upload=1.0),))
    with pytest.raises(ValueError, match="piece length"):
        build("flash", peers=1, size=1, origin_up=1, peer_up=1, piece_length=1000 * 1000)


def test_a_capped_downlink_holds_every_peer_to_its_rate() -> None:
    def capped(exact: bool) -> Scenario:
        return build(
            "mixed",
            peers=6,
            size=2 * MIB,
            origin_up=4 * MIB,
            peer_up=MIB,
            peer_down=MIB,
            piece_length=256 * 1024,
            exact=exact,
        )

    simulation = run(capped(exact=False))
    scenario = simulation.scenario
    assert scenario.t_min() == pytest.approx(2 * MIB / (MIB / 5))  # the slow peers' downlinks
    for peer in simulation.peers[1:]:
        assert peer.finished_at is not None
        assert peer.finished_at >= scenario.size / peer.spec.download
    assert outcome(simulation) == outcome(run(capped(exact=True)))


def test_a_run_stopped_early_carries_on_to_the_same_swarm() -> None:
    whole = run(small("flash"))
    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return asked == 50  # the caller's budget runs out once

    paused = Simulation(small("flash"))
    assert not paused.run(stop=stop)
    assert 0 < paused.now < whole.now and paused.unfinished > 0
    assert paused.run()
    assert outcome(paused) == outcome(whole)
    assert paused.loop.events == whole.loop.events
