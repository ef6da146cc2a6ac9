"""Peer speed and memory: one seed to one leecher over loopback, bitswarm and libtorrent.

Transfers (BEP 3 over TCP, no rate limit, 127.0.0.1): one seed and one
leecher, each a process of its own, for 1 GiB (one file, v1, 1 MiB pieces,
made once in ``$BITSWARM_BENCH_CACHE`` or ``/tmp/bitswarm-bench``), in the
four pairings ``lt->lt`` (the reference), ``bs->bs``, ``lt->bs`` and
``bs->lt``. bitswarm runs as its own ``seed`` and ``download`` commands,
libtorrent 2 (PyPI) as ``tests/interop/lt_peer.py`` with DHT, LSD, UPnP,
NAT-PMP, PEX, uTP and encryption off. The seed is started and ready first
(a libtorrent seed in seed mode, a bitswarm seed trusting its resume data
after the first run); the clock runs from the leecher's start, so it
includes its start-up, to its last piece verified: the moment a libtorrent
leecher reports, and a bitswarm leecher's exit, which adds its final
``fsync`` and resume save (tens of milliseconds). For each pairing it prints:

* ``MB/s`` (10^6 bytes a second);
* CPU seconds (user + system) per GiB of each side: the seed's over the
  transfer, the leecher's over its whole life;
* peak RSS of each side (``VmHWM``, or ``ru_maxrss`` for a leecher that exits);
* the ratios of MB/s, of each side's CPU seconds and of each side's peak RSS
  to ``lt->lt`` of the same run (above 1: faster, or more CPU and memory).

Each pairing runs twice, in a round of all four and a round in the reverse order, and
the faster run is reported: these machines are noisy, and a run's place in the sequence
moves its figures by several percent.

Memory, bitswarm and libtorrent each in a session process of its own: the
RSS with one torrent and with 100 more idle ones (small leechers with
nothing yet, no peers), and with 200 connected peers on the first torrent
(handshake done, nothing else sent; libtorrent keeps 150 of them with these
settings, and each session's own count is used) against the same session
before they came; bytes per idle torrent and per peer, and bitswarm's
against libtorrent's.

Run: ``python bench/peer.py`` (``--size 256MiB`` for a quicker run,
``--only memory`` or ``--only transfer``, ``--profile DIR`` for cProfile
statistics of each bitswarm process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# The third-party peer harness lives with the tests; bitswarm may be uninstalled.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "interop"), str(ROOT / "tests"), str(ROOT / "src")]

from peers import (  # noqa: E402
    BitswarmPeer,
    LibtorrentPeer,
    PeerProcess,
    answers_handshake,
    wait_until,
)

from bitswarm import NATIVE  # noqa: E402
from bitswarm.cli.units import parse_size  # noqa: E402
from bitswarm.core.metainfo import parse_torrent  # noqa: E402
from bitswarm.core.wire.handshake import HANDSHAKE_SIZE, Extensions, Handshake  # noqa: E402
from bitswarm.storage.create import create_torrent  # noqa: E402

CACHE = Path(os.environ.get("BITSWARM_BENCH_CACHE", "/tmp/bitswarm-bench")) / "peer"
PIECE = 1024 * 1024
GIB = 1 << 30
TICKS = os.sysconf("SC_CLK_TCK")
TRANSFER_TIMEOUT = 600.0
IDLE_TORRENTS = 100
CONNECTED_PEERS = 200
REPEATS = 2
"""Runs of each pairing; the fastest is reported (with its CPU and memory)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds (user + system) and peak resident memory of one process."""

    cpu: float
    peak_rss: int


def live_usage(pid: int) -> Usage:
    """From ``/proc``: CPU so far and the high-water mark of the resident set."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()
    peak = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return Usage(cpu, int(peak.split()[1]) * 1024)


def reap(peer: PeerProcess, timeout: float) -> Usage:
    """Wait for a peer that exits on its own (a bitswarm leecher); its whole life's usage."""
    process = peer.process
    assert process is not None
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                raise RuntimeError(f"{peer.name} exited with status {process.returncode}")
            return Usage(usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{peer.name} did not finish in {timeout:g} s")
        time.sleep(0.005)


def content(size: int) -> tuple[Path, Path]:
    """The seed's folder (holding ``payload.bin``) and the torrent file, made once per size."""
    folder = CACHE / f"seed-{size}"
    payload = folder / "payload.bin"
    torrent_path = CACHE / f"payload-{size}.torrent"
    if not payload.exists() or payload.stat().st_size != size:
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(5)
        with payload.open("wb") as out:
            for _ in range(0, size, 1 << 24):
                out.write(rng.randbytes(min(1 << 24, size - out.tell())))
        torrent_path.unlink(missing_ok=True)
    if not torrent_path.exists():
        torrent = create_torrent(payload, version="v1", piece_length=PIECE, creation_date=None)
        torrent_path.write_bytes(torrent.to_bytes())
    return folder, torrent_path


@dataclass(frozen=True, slots=True)
class Transfer:
    seconds: float
    seed: Usage
    leecher: Usage


def suffixed(profile: Path | None, role: str) -> Path | None:
    return None if profile is None else profile.with_name(f"{profile.name}-{role}.prof")


def start_seed(
    kind: str, torrent: Path, folder: Path, info_hash: bytes, profile: Path | None
) -> tuple[PeerProcess, int]:
    """A seed of ``kind`` that answers handshakes for the torrent (ready to serve).

    libtorrent reports the torrent as seeding a moment before it accepts
    peers for it; a leecher that dials then is refused and, for bitswarm,
    waits 30 s to dial again. So readiness is a handshake answered.
    """
    seed: PeerProcess
    if kind == "lt":
        seed = LibtorrentPeer(torrent, folder, seed_mode=True)
    else:
        seed = BitswarmPeer(torrent, folder, seed=True, log=CACHE / "bs-seed.log", profile=profile)
    try:
        seed.start()
        port = seed.port
        wait_until(lambda: answers_handshake(port, info_hash), f"the {seed.name} seed", 300)
    except BaseException:
        seed.stop()
        raise
    return seed, port


def transfer(seed_kind: str, leech_kind: str, size: int, profile: Path | None) -> Transfer:
    """One transfer; with ``profile``, cProfile output of bitswarm in ``profile-seed.prof``..."""
    folder, torrent = content(size)
    info_hash = info_hash_of(torrent)
    leech_folder = CACHE / "leech"
    shutil.rmtree(leech_folder, ignore_errors=True)
    seed, port = start_seed(seed_kind, torrent, folder, info_hash, suffixed(profile, "seed"))
    try:
        before = live_usage(seed.pid)
        started = time.monotonic()
        if leech_kind == "lt":
            lt_leecher = LibtorrentPeer(torrent, leech_folder, peers=[("127.0.0.1", port)])
            with lt_leecher:
                if not lt_leecher.finished.wait(TRANSFER_TIMEOUT):
                    raise TimeoutError(
                        f"the libtorrent leecher did not finish in {TRANSFER_TIMEOUT:g} s"
                    )
                assert lt_leecher.finished_at is not None
                seconds = lt_leecher.finished_at - started
                after = live_usage(seed.pid)
                leecher = live_usage(lt_leecher.pid)
        else:
            log = CACHE / "bs-leech.log"
            bs_leecher = BitswarmPeer(
                torrent,
                leech_folder,
                seed=False,
                log=log,
                peers=[("127.0.0.1", port)],
                profile=suffixed(profile, "leecher"),
            )
            bs_leecher.start()
            try:
                leecher = reap(bs_leecher, TRANSFER_TIMEOUT)
                seconds = time.monotonic() - started
                after = live_usage(seed.pid)
            finally:
                bs_leecher.stop()
    finally:
        seed.stop()
    if (leech_folder / "payload.bin").stat().st_size != size:
        raise RuntimeError("the leecher's copy has the wrong size")
    shutil.rmtree(leech_folder, ignore_errors=True)
    return Transfer(seconds, Usage(after.cpu - before.cpu, after.peak_rss), leecher)


def info_hash_of(torrent: Path) -> bytes:
    return parse_torrent(torrent.read_bytes()).info_hash


def run_transfers(size: int, profiles: Path | None) -> None:
    pairs = [("lt", "lt"), ("bs", "bs"), ("lt", "bs"), ("bs", "lt")]
    runs: dict[str, list[Transfer]] = {f"{seed}->{leech}": [] for seed, leech in pairs}
    for round_ in range(REPEATS):
        # Rounds of every pairing, forwards then backwards: a run's place in the sequence
        # (the machine's drift, the page cache the run before left) weighs on all alike.
        for seed_kind, leech_kind in pairs if round_ % 2 == 0 else pairs[::-1]:
            profile = None if profiles is None else profiles / f"{seed_kind}-{leech_kind}"
            runs[f"{seed_kind}->{leech_kind}"].append(
                transfer(seed_kind, leech_kind, size, profile)
            )
    results = {name: min(done, key=lambda run: run.seconds) for name, done in runs.items()}
    reference = results["lt->lt"]
    gib = size / GIB
    for name, result in results.items():
        rate = size / result.seconds / 1e6
        print(f"{name} rate: {rate:.0f} MB/s")
        print(f"{name} rate vs lt->lt: {reference.seconds / result.seconds:.2f} x")
        for side in ("seed", "leecher"):
            ours, theirs = getattr(result, side), getattr(reference, side)
            print(f"{name} {side} cpu: {ours.cpu / gib:.2f} s/GiB")
            print(f"{name} {side} cpu vs lt->lt: {ours.cpu / max(theirs.cpu, 1e-9):.2f} x")
            print(f"{name} {side} peak rss: {ours.peak_rss / 1e6:.0f} MB")
            print(f"{name} {side} peak rss vs lt->lt: {ours.peak_rss / theirs.peak_rss:.2f} x")


# -- memory ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    """Resident bytes of a session process at each stage of :func:`memory_child`."""

    empty: int
    one_torrent: int
    torrents: int
    peers: int
    connected: int

    @property
    def per_torrent(self) -> float:
        return (self.torrents - self.one_torrent) / IDLE_TORRENTS

    @property
    def per_peer(self) -> float:
        return (self.peers - self.torrents) / max(self.connected, 1)


def resident() -> int:
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def stage(line: str) -> None:
    print(line, flush=True)


def idle_torrents() -> list[Path]:
    """Torrent files of 101 small v1 torrents (256 KiB, 16 pieces), made once."""
    folder = CACHE / "memory"
    paths = [folder / f"t{i}.torrent" for i in range(IDLE_TORRENTS + 1)]
    for i, path in enumerate(paths):
        if not path.exists():
            source = folder / "source" / f"t{i}"
            source.mkdir(parents=True, exist_ok=True)
            (source / "file.bin").write_bytes(random.Random(i).randbytes(256 * 1024))
            torrent = create_torrent(source, version="v1", piece_length=16 * 1024)
            path.write_bytes(torrent.to_bytes())
    return paths


async def bitswarm_memory_child(paths: list[Path], save: Path) -> None:
    """A bitswarm session; then 100 idle torrents (and one for peers); then peers on one."""
    from bitswarm.aio.session import Session, SessionConfig
    from bitswarm.aio.torrent_open import default_state_dir, open_torrent

    room = CONNECTED_PEERS + 10
    config = SessionConfig(
        bind="127.0.0.1", port=0, max_connections=room, max_peers_per_torrent=room
    )
    session = Session(config)
    await session.start()
    try:
        stage(f"empty {resident()}")
        for i, path in enumerate(paths):
            torrent = parse_torrent(path.read_bytes())
            parts = await open_torrent(torrent, save, default_state_dir(save))
            session.add(parts, announce=False)
            if i == 0:
                stage(f"one {resident()} {session.port} {torrent.info_hash.hex()}")
        stage(f"torrents {resident()}")
        await asyncio.to_thread(sys.stdin.readline)  # the parent has connected its peers
        stage(f"peers {resident()} {session.connection_count()}")
    finally:
        await session.close()


def libtorrent_memory_child(paths: list[Path], save: Path) -> None:
    """The same stages in a libtorrent session (settings of ``lt_peer.py``)."""
    import libtorrent as lt
    from lt_peer import settings

    pack = settings("127.0.0.1", 0, encryption=False)
    pack["connections_limit"] = CONNECTED_PEERS + 10
    session = lt.session(pack, 0)  # type: ignore[call-overload]
    stage(f"empty {resident()}")
    handles = []
    for i, path in enumerate(paths):
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(str(path))
        params.save_path = str(save)
        # Started, none queued: not paused, not auto-managed.
        params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        handles.append(session.add_torrent(params))
        if i == 0:
            info_hash = params.ti.info_hashes().v1.to_bytes().hex()
            stage(f"one {resident()} {session.listen_port()} {info_hash}")
    wait_until(lambda: all(h.status().state != h.status().checking_files for h in handles), "lt")
    stage(f"torrents {resident()}")
    sys.stdin.readline()
    stage(f"peers {resident()} {handles[0].status().num_peers}")


def measure_memory(engine: str) -> Memory:
    save = CACHE / "memory" / f"save-{engine}"
    shutil.rmtree(save, ignore_errors=True)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--memory-child", engine],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None

    def expect(word: str) -> list[str]:
        assert child.stdout is not None
        fields = child.stdout.readline().split()
        if not fields or fields[0] != word:
            raise RuntimeError(f"{engine} memory child: expected {word!r}, got {fields!r}")
        return fields[1:]

    try:
        empty = int(expect("empty")[0])
        one, port, info_hash = expect("one")
        torrents = int(expect("torrents")[0])
        wait_until(lambda: answers_handshake(int(port), bytes.fromhex(info_hash)), engine)
        sockets = connect_peers(int(port), bytes.fromhex(info_hash))
        child.stdin.write("measure\n")
        child.stdin.flush()
        peers, connected = (int(field) for field in expect("peers"))
        for sock in sockets:
            sock.close()
    finally:
        child.stdin.close()
        child.wait(60)
    return Memory(empty, int(one), torrents, peers, connected)


def run_memory() -> None:
    idle_torrents()
    bs, lt = measure_memory("bs"), measure_memory("lt")
    for name, memory in (("bs", bs), ("lt", lt)):
        print(f"{name} session rss: {memory.empty / 1e6:.1f} MB")
        print(f"{name} rss with {IDLE_TORRENTS + 1} idle torrents: {memory.torrents / 1e6:.1f} MB")
        print(f"{name} bytes per idle torrent: {memory.per_torrent:.0f} B")
        print(f"{name} rss with {memory.connected} peers: {memory.peers / 1e6:.1f} MB")
        print(f"{name} bytes per connected peer: {memory.per_peer:.0f} B")
    print(f"bytes per idle torrent bs vs lt: {bs.per_torrent / lt.per_torrent:.2f} x")
    print(f"bytes per connected peer bs vs lt: {bs.per_peer / max(lt.per_peer, 1):.2f} x")


def connect_peers(port: int, info_hash: bytes) -> list[socket.socket]:
    """Up to 200 peers with a good handshake (distinct peer ids); those refused are dropped.

    The session's own count of connected peers is what the figures use.
    """
    sockets = []
    for i in range(CONNECTED_PEERS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        peer_id = b"-XX0000-" + f"{i:012d}".encode()
        try:
            sock.sendall(Handshake(info_hash, peer_id, Extensions.FAST).encode())
            answer = b""
            while len(answer) < HANDSHAKE_SIZE:
                data = sock.recv(HANDSHAKE_SIZE - len(answer))
                if not data:
                    raise ConnectionError("closed before its handshake")
                answer += data
        except OSError:
            sock.close()
            continue
        sockets.append(sock)
    time.sleep(1.0)  # let the session take in the last ones
    return sockets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--only", choices=["transfer", "memory"])
    parser.add_argument("--profile", type=Path, help="folder for cProfile output of bitswarm")
    parser.add_argument("--memory-child", choices=["bs", "lt"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.memory_child is not None:
        paths, save = idle_torrents(), CACHE / "memory" / f"save-{arguments.memory_child}"
        if arguments.memory_child == "bs":
            asyncio.run(bitswarm_memory_child(paths, save))
        else:
            libtorrent_memory_child(paths, save)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    if arguments.profile is not None:
        arguments.profile.mkdir(parents=True, exist_ok=True)
    print(f"bitswarm core: {'compiled (mypyc)' if NATIVE else 'from source'}")
    if arguments.only != "memory":
        run_transfers(parse_size(arguments.size), arguments.profile)
    if arguments.only != "transfer":
        run_memory()


if __name__ == "__main__":
    main()
