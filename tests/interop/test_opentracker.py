"""bitswarm's tracker client against opentracker, the reference C tracker, on 127.0.0.1.

Two peers announce over HTTP and over UDP (BEP 3, 15); the second must get
the first back, and a scrape (BEP 48) must count both. Debian builds
opentracker whitelist-only: the info-hashes are listed in hex in its access
list before it starts, and a SIGHUP reloads the list. Run as root, it chroots
into its ``tracker.rootdir`` and drops to ``nobody``, so the folder must be
world-readable and the list is named from inside the chroot.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes
from urllib.request import ProxyHandler, build_opener

import pytest

from bitswarm.aio.tracker_client import AnnounceFailed, TrackerClient
from bitswarm.core.tracker.model import Event, SwarmCounts

pytestmark = pytest.mark.interop

HTTP_HASH = bytes.fromhex("11" * 20)
UDP_HASH = bytes.fromhex("22" * 20)
LATE_HASH = bytes.fromhex("33" * 20)
READY_HASH = bytes.fromhex("44" * 20)
SEED_ID = b"-BS0100-seedseedseed"
LEECH_ID = b"-BS0100-leechleechle"


@dataclass
class OpenTracker:
    port: int
    whitelist: Path
    process: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}/announce"

    @property
    def udp(self) -> str:
        return f"udp://127.0.0.1:{self.port}"

    def allow(self, info_hash: bytes) -> None:
        with self.whitelist.open("a") as listing:
            listing.write(info_hash.hex() + "\n")
        self.process.send_signal(signal.SIGHUP)


def free_tcp_and_udp_port() -> int:
    """A port free for TCP and UDP alike on 127.0.0.1 (opentracker binds both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no port free for both TCP and UDP")


def wait_until_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until opentracker listens and has loaded its access list (in a thread of its own).

    The probe announces ``stopped`` for READY_HASH, so it leaves no peer behind.
    """
    probe = (
        f"http://127.0.0.1:{port}/announce?info_hash={quote_from_bytes(READY_HASH)}"
        "&peer_id=-BS0100-probeprobepr&port=1&uploaded=0&downloaded=0&left=0&event=stopped"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opentracker exited with {process.returncode}")
        try:
            with build_opener(ProxyHandler({})).open(probe, timeout=1) as response:
                if b"failure reason" not in response.read():
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("opentracker did not start answering")


@pytest.fixture
def opentracker(tmp_path: Path, program: Callable[[str], str]) -> Iterator[OpenTracker]:
    binary = program("opentracker")
    root = tmp_path / "opentracker"
    root.mkdir()
    root.chmod(0o755)
    tmp_path.chmod(0o755)
    whitelist = root / "whitelist"
    whitelist.write_text("".join(f"{h.hex()}\n" for h in (HTTP_HASH, UDP_HASH, READY_HASH)))
    port = free_tcp_and_udp_port()
    chrooted = os.geteuid() == 0
    config = root / "opentracker.conf"
    config.write_text(
        f"listen.tcp_udp 127.0.0.1:{port}\n"
        f"access.whitelist {'/whitelist' if chrooted else whitelist}\n"
        + (f"tracker.rootdir {root}\n" if chrooted else "")
    )
    process = subprocess.Popen(
        [binary, "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until_ready(port, process)
        yield OpenTracker(port, whitelist, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


async def two_peers_find_each_other(url: str, info_hash: bytes) -> None:
    async with TrackerClient([[url]]) as seed, TrackerClient([[url]]) as leech:
        first = await seed.announce(info_hash, SEED_ID, 6001, 0, 0, 0, Event.STARTED)
        assert set(first.peers) <= {("127.0.0.1", 6001)}  # opentracker may return the announcer
        second = await leech.announce(info_hash, LEECH_ID, 6002, 0, 0, 500, Event.STARTED)
        assert ("127.0.0.1", 6001) in second.peers
        assert (second.reply.complete, second.reply.incomplete) == (1, 1)
        assert second.interval > 0
        again = await seed.announce(info_hash, SEED_ID, 6001, 0, 0, 0)
        assert again.tracker == url
        counts = await leech.scrape([info_hash])
        assert counts[info_hash].complete == 1 and counts[info_hash].incomplete == 1
        await seed.announce(info_hash, SEED_ID, 6001, 0, 0, 0, Event.STOPPED)
        after = await leech.announce(info_hash, LEECH_ID, 6002, 0, 0, 500)
        assert ("127.0.0.1", 6001) not in after.peers
        assert (after.reply.complete, after.reply.incomplete) == (0, 1)


async def test_http_announce_and_scrape(opentracker: OpenTracker) -> None:
    await two_peers_find_each_other(opentracker.http, HTTP_HASH)


async def test_udp_announce_and_scrape(opentracker: OpenTracker) -> None:
    await two_peers_find_each_other(opentracker.udp, UDP_HASH)


async def test_refusal_is_surfaced_then_lifted_by_the_whitelist(opentracker: OpenTracker) -> None:
    async with TrackerClient([[opentracker.http]]) as client:
        with pytest.raises(AnnounceFailed, match="not authorized"):
            await client.announce(LATE_HASH, SEED_ID, 6003, 0, 0, 0, Event.STARTED)
        opentracker.allow(LATE_HASH)
        for _ in range(50):  # the reload is asynchronous
            try:
                await client.announce(LATE_HASH, SEED_ID, 6003, 0, 0, 0, Event.STARTED)
                break
            except AnnounceFailed:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("opentracker never accepted the whitelisted info-hash")
        counts = await client.scrape([LATE_HASH])
        assert counts == {LATE_HASH: SwarmCounts(complete=1, incomplete=0, downloaded=0)}
