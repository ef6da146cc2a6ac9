"""The simulator against reality: one loopback swarm run three ways, side by side.

The same swarm (one origin, ``--peers`` downloaders, a ``--size`` file in the
demo's 64 KiB pieces, every upload capped at ``--rate``, all on 127.0.0.1):

* **bitswarm, real**: ``bitswarm demo --json`` in a process of its own (the
  real peers, sockets, disk, embedded tracker);
* **libtorrent, real** (the reference): one libtorrent 2 session per peer
  in this process, DHT, LSD, UPnP, NAT-PMP, uTP and PEX off, listening on
  127.0.0.1, the loopback peers put in the global peer class so the upload
  caps apply to them (libtorrent exempts local peers otherwise); every
  downloader dials the origin and the others (a full mesh, as a tracker's
  ``numwant`` of 50 gives a swarm this small);
* **bitswarm, simulated**: :mod:`bitswarm.sim` with the same parameters and
  loopback latency, over ``--seeds`` seeds.

Printed as ``name: value unit``: the last completion time and the origin's
upload over ``F`` for each, and the ratios bitswarm/libtorrent (the issue's
target: no worse than 1) and simulated/real (the simulator's error).

Run: ``python bench/sim_vs_real.py`` (20 peers, 16 MiB, 2 MiB/s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libtorrent as lt

from bitswarm.cli.demo import PIECE_LENGTH
from bitswarm.sim.scenarios import build
from bitswarm.sim.simulation import Simulation
from bitswarm.storage.create import create_torrent

MIB = 2**20
LOOPBACK = "127.0.0.1"
LOOPBACK_LATENCY = 0.0001


def real_bitswarm(peers: int, size: int, rate: int) -> tuple[float, float]:
    command = [sys.executable, "-m", "bitswarm", "demo", "--peers", str(peers)]
    command += ["--size", str(size), "--origin-up", str(rate), "--peer-up", str(rate), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    report = json.loads(done.stdout)
    return report["seconds"], report["origin_uploaded"] / size


def _session(rate: int) -> lt.session:
    session = lt.session(
        {
            "listen_interfaces": f"{LOOPBACK}:0",
            "outgoing_interfaces": LOOPBACK,
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_outgoing_utp": False,
            "enable_incoming_utp": False,
            "allow_multiple_connections_per_ip": True,
            "upload_rate_limit": rate,
            "alert_mask": 0,
        }
    )
    session.set_peer_class_filter(_everyone_global())
    return session


def _everyone_global() -> lt.ip_filter:
    rules = lt.ip_filter()
    rules.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    return rules


def real_libtorrent(peers: int, size: int, rate: int, folder: Path) -> tuple[float, float]:
    origin_dir = folder / "origin"
    origin_dir.mkdir()
    (origin_dir / "sample.bin").write_bytes(os.urandom(size))
    torrent = create_torrent(origin_dir / "sample.bin", version="v1", piece_length=PIECE_LENGTH)
    info = lt.torrent_info(torrent.to_bytes())
    sessions = [_session(rate) for _ in range(peers + 1)]
    handles = []
    for index, session in enumerate(sessions):
        params = lt.add_torrent_params()
        params.ti = info
        params.save_path = str(origin_dir if index == 0 else folder / f"peer-{index}")
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        if index == 0:
            params.flags |= lt.torrent_flags.seed_mode
        handles.append(session.add_torrent(params))
    ports = [session.listen_port() for session in sessions]
    started = time.monotonic()
    for index, handle in enumerate(handles[1:], 1):
        for other, port in enumerate(ports):
            if other < index:  # each pair once: the later peer dials
                handle.connect_peer((LOOPBACK, port))
    finished: dict[int, float] = {}
    while len(finished) < peers and time.monotonic() - started < 900:
        time.sleep(0.05)
        for index, handle in enumerate(handles[1:], 1):
            if index not in finished and handle.status().is_seeding:
                finished[index] = time.monotonic() - started
    origin_up = handles[0].status().total_payload_upload
    for session in sessions:
        session.pause()
    if len(finished) < peers:
        raise SystemExit("libtorrent swarm did not finish within 900 s")
    return max(finished.values()), origin_up / size


def simulated(peers: int, size: int, rate: int, seeds: int) -> tuple[float, float]:
    times, origin = [], []
    for seed in range(seeds):
        scenario = build(
            "flash",
            peers=peers,
            size=size,
            origin_up=rate,
            peer_up=rate,
            piece_length=PIECE_LENGTH,
            latency=LOOPBACK_LATENCY,
            seed=seed,
        )
        simulation = Simulation(scenario)
        if not simulation.run():
            raise SystemExit(f"simulation (seed {seed}) did not finish")
        times.append(simulation.now)
        origin.append(simulation.stats.origin_uploaded / size)
    return statistics.median(times), statistics.median(origin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=20)
    parser.add_argument("--size-mib", type=int, default=16)
    parser.add_argument("--rate-mib", type=float, default=2.0, help="every upload cap, MiB/s")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    peers, size, rate = args.peers, args.size_mib * MIB, int(args.rate_mib * MIB)
    t_min = max(size / rate, peers * size / (rate * (peers + 1)))
    print(f"swarm: {peers} peers, {args.size_mib} MiB, {args.rate_mib:g} MiB/s caps")
    print(f"t_min: {t_min:.2f} s")
    bs_time, bs_origin = real_bitswarm(peers, size, rate)
    with tempfile.TemporaryDirectory(prefix="bitswarm-lt-swarm-") as folder:
        lt_time, lt_origin = real_libtorrent(peers, size, rate, Path(folder))
    sim_time, sim_origin = simulated(peers, size, rate, args.seeds)
    for name, seconds, origin in (
        ("bitswarm_real", bs_time, bs_origin),
        ("libtorrent_real", lt_time, lt_origin),
        ("bitswarm_simulated", sim_time, sim_origin),
    ):
        print(f"{name}_seconds: {seconds:.2f} s ({seconds / t_min:.2f} x t_min)")
        print(f"{name}_origin_upload: {origin:.3f} x F")
    print(f"bitswarm_vs_libtorrent_time: {bs_time / lt_time:.2f} x")
    print(f"bitswarm_vs_libtorrent_origin_upload: {bs_origin / lt_origin:.2f} x")
    print(f"simulated_vs_real_time: {sim_time / bs_time:.2f} x")
    print(f"simulated_vs_real_origin_upload: {sim_origin / bs_origin:.2f} x")


if __name__ == "__main__":
    main()
