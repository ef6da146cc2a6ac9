"""Tracker throughput and memory: bitswarm against opentracker, same load, one core each.

Every server runs on 127.0.0.1 in a process of its own; the load generator
runs in another (``bench/tracker_load.py``; for a new connection per
announce ``bench/http_close_load.c``, compiled for the run) and announces
across ``--torrents`` synthetic torrents from 8 source addresses
(127.0.0.10-17), 8,192 distinct peers each, numwant 50. The generator is
pinned to core 0 and each server under test to core 1, so "one worker each"
holds even for opentracker, whose UDP side runs several threads. Figures,
each as ``name: value unit``:

* the generator's own ceiling, against responders that answer instantly
  (``udp_echo.c`` and ``http_echo.c``, compiled for the run, since a Python
  responder would be slower than opentracker). A server that reaches it is
  faster than it shows, and a ratio against that server is an upper bound;
* UDP (BEP 15) and HTTP (BEP 3) announces per second with p50 and p99
  latency, for bitswarm (``bitswarm tracker``, memory store, one process) and
  opentracker (Debian's, whitelist holding every torrent), and
  bitswarm/opentracker ratios from the same run. HTTP is measured like for
  like with a new connection per announce, as most clients announce
  (``http_close_*``; opentracker closes after every answer anyway), and
  for bitswarm also over kept-alive connections (``http_bitswarm``), which
  it serves and opentracker does not;
* the Redis store's UDP throughput with 1 and 2 tracker processes sharing the
  port (SO_REUSEPORT) and one redis-server, these left free to use both cores;
* bytes per stored peer in the memory store at one million peers over
  100,000 torrents (resident memory growth of a fresh process over the
  store's own registry, allocator overhead included).

Each rate is the best of ``--repeats`` runs, with that run's latencies. The
machine is shared and small: the ratios are the figures to read; a lone
absolute rate means little. Run: ``python bench/tracker.py`` (needs
opentracker, redis-server and a C compiler); ``--only udp --only http`` and
shorter ``--duration``/``--repeats`` give a quick look. The first line names
the event loop ``bitswarm tracker`` runs on (uvloop when installed).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bitswarm.aio.tracker_run import event_loop_name
from bitswarm.core.tracker.model import Announcement, Event
from bitswarm.core.tracker.registry import Registry
from tracker_load import (
    LoadResult,
    Target,
    info_hash,
    run_http_close_load,
    run_http_load,
    run_udp_load,
)

PARTS = ("udp", "http", "redis", "memory")
"""What the benchmark can measure; ``--only`` picks some."""

SOURCES = 8
WINDOW = 16
HTTP_CONNECTIONS = 32
BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"

GENERATOR_CPUS = {0}
"""The generator's core; each server under test gets the other one."""

SERVER_CPUS = {1}


def pin(cpus: set[int]) -> None:
    """Keep the calling process on ``cpus`` (a no-op on a one-core machine)."""
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, cpus)


def free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with contextlib.suppress(OSError):
                udp.bind(("127.0.0.1", port))
                return port


def wait_for_udp_announce(port: int, deadline: float = 20.0) -> None:
    """Until the tracker answers a UDP announce for torrent 0 (not an error)."""
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        with contextlib.suppress(Exception):
            result = run_udp_load(("127.0.0.1", port), 1, 1, 1, 0.0, 0.2)
            if result.answers and not result.lost:
                return
        time.sleep(0.2)
    raise RuntimeError(f"no tracker answering on 127.0.0.1:{port}")


@contextlib.contextmanager
def process(command: list[str], cpus: set[int] | None) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` on ``cpus`` (``None``: anywhere) until the block ends."""
    env = dict(os.environ, PYTHONPATH=f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=None if cpus is None else lambda: pin(cpus),
    )  # fmt: skip
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def compiled(name: str, folder: Path) -> Path:
    """``bench/<name>.c`` built into ``folder``."""
    binary = folder / name
    subprocess.run(["cc", "-O2", "-o", str(binary), str(BENCH / f"{name}.c")], check=True)
    return binary


@contextlib.contextmanager
def responder(name: str) -> Iterator[int]:
    """``udp_echo.c`` or ``http_echo.c``, compiled for the run: instant answers."""
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as folder,
        process([str(compiled(name, Path(folder))), str(port)], SERVER_CPUS),
    ):
        time.sleep(0.3)
        yield port


@contextlib.contextmanager
def bitswarm_tracker(store: str, workers: int, cpus: set[int] | None) -> Iterator[int]:
    port = free_port()
    where = f"127.0.0.1:{port}"
    command = [sys.executable, "-m", "bitswarm", "tracker", "--http", where, "--udp", where]
    command += ["--store", store, "--workers", str(workers), "--secret", "bench"]
    with process(command, cpus):
        wait_for_udp_announce(port)
        yield port


@contextlib.contextmanager
def opentracker(torrents: int) -> Iterator[int]:
    """Debian's opentracker, whitelisting every synthetic torrent; chrooted when root."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        root.chmod(0o755)
        (root / "whitelist").write_text("".join(info_hash(t).hex() + "\n" for t in range(torrents)))
        chroot = os.geteuid() == 0
        (root / "opentracker.conf").write_text(
            f"listen.tcp_udp 127.0.0.1:{port}\n"
            f"access.whitelist {'/whitelist' if chroot else root / 'whitelist'}\n"
            + (f"tracker.rootdir {root}\n" if chroot else "")
        )
        with process(["opentracker", "-f", str(root / "opentracker.conf")], SERVER_CPUS):
            wait_for_udp_announce(port)
            yield port


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        with process([*command, "--appendonly", "no", "--dir", folder], None):
            time.sleep(0.5)
            yield f"redis://127.0.0.1:{port}/0"


def report(name: str, result: LoadResult) -> float:
    print(f"{name}: {result.rate:.0f} announces/s")
    print(f"{name}_p50: {result.percentile(0.5) * 1000:.2f} ms")
    print(f"{name}_p99: {result.percentile(0.99) * 1000:.2f} ms")
    if result.lost:
        print(f"{name}_lost: {result.lost} datagrams")
    return result.rate


def ratio(name: str, ours: float, theirs: float) -> None:
    print(f"{name}: {ours / theirs:.2f} x" if theirs else f"{name}: n/a x")


def memory_per_peer(torrents: int, peers: int) -> float:
    """Resident bytes per peer that the memory store's registry grows by, in this process."""

    def resident() -> int:
        gc.collect()
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    hashes = [info_hash(t) for t in range(torrents)]
    before = resident()
    registry = Registry(peer_ttl=3600.0)
    for number in range(peers):
        peer_id = struct.pack(">12sQ", b"-BS0100-", number)
        address = struct.pack(">IH", 0x0A000000 + number, 6881)
        announcement = Announcement(
            hashes[number % torrents], peer_id, address, 0, 0, number & 1, Event.STARTED, 0
        )
        registry.announce(announcement, 0.0)
    assert registry.stats().peers == peers
    return (resident() - before) / peers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per figure; the best counts")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--torrents", type=int, default=2000, help="torrents in the timed runs")
    parser.add_argument("--memory-torrents", type=int, default=100_000)
    parser.add_argument("--memory-peers", type=int, default=1_000_000)
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="run only these parts (repeatable)"
    )
    args = parser.parse_args()
    parts = set(args.only or PARTS)
    for program in ("opentracker", "redis-server", "cc"):
        if shutil.which(program) is None:
            print(f"{program} is not installed", file=sys.stderr)
            return 2
    timing = (args.torrents, args.warmup, args.duration)
    fork = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(1, mp_context=fork, initializer=pin, initargs=(GENERATOR_CPUS,))

    def best(run: Callable[..., LoadResult], *load: object) -> LoadResult:
        results = [pool.submit(run, *load, *timing).result() for _ in range(args.repeats)]
        return max(results, key=lambda result: result.rate)

    def udp(port: int) -> LoadResult:
        return best(run_udp_load, ("127.0.0.1", port), SOURCES, WINDOW)

    build = tempfile.TemporaryDirectory()  # removed at the end, or at exit if interrupted
    close_load = str(compiled("http_close_load", Path(build.name)))

    def http(port: int, close_each: bool) -> LoadResult:
        target: Target = ("127.0.0.1", port)
        if close_each:
            return best(run_http_close_load, target, HTTP_CONNECTIONS, close_load)
        return best(run_http_load, target, HTTP_CONNECTIONS)

    print(f"cores: {os.cpu_count()} count")
    print(f"bitswarm_event_loop: {event_loop_name()}")
    print(f"torrents: {args.torrents} count")
    print(f"peers: {SOURCES * 8192} count")
    loads: dict[str, Callable[[int], LoadResult]] = {
        "udp": udp,
        "http_close": lambda port: http(port, True),
        "http": lambda port: http(port, False),
    }
    chosen = [name for name in loads if name.split("_")[0] in parts]
    with contextlib.ExitStack() as ceilings:
        for name in chosen:
            echo = responder("udp_echo" if name == "udp" else "http_echo")
            report(f"{name}_generator_ceiling", loads[name](ceilings.enter_context(echo)))
    if chosen:
        with bitswarm_tracker("memory", 1, SERVER_CPUS) as port:
            ours = {name: report(f"{name}_bitswarm", loads[name](port)) for name in chosen}
        compared = [name for name in chosen if name != "http"]  # opentracker never keeps alive
        with opentracker(args.torrents) as port:
            theirs = {name: report(f"{name}_opentracker", loads[name](port)) for name in compared}
        for name in compared:
            ratio(f"{name}_bitswarm_vs_opentracker", ours[name], theirs[name])
        if "http" in chosen:
            ratio("http_keepalive_bitswarm_vs_opentracker", ours["http"], theirs["http_close"])
    if "redis" in parts:
        rates = []
        for workers in (1, 2):
            with redis_server() as url, bitswarm_tracker(url, workers, None) as port:
                rates.append(report(f"udp_bitswarm_redis_{workers}_workers", udp(port)))
        ratio("udp_bitswarm_redis_2_vs_1_workers", rates[1], rates[0])
    pool.shutdown()
    build.cleanup()
    if "memory" in parts:
        with ProcessPoolExecutor(1, mp_context=fork) as fresh:
            per_peer = fresh.submit(memory_per_peer, args.memory_torrents, args.memory_peers)
            print(f"memory_store_peers: {args.memory_peers} peers")
            print(f"memory_store_torrents: {args.memory_torrents} torrents")
            print(f"memory_store_bytes_per_peer: {per_peer.result():.0f} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
