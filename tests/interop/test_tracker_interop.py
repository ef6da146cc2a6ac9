"""Real clients find each other through bitswarm's tracker on 127.0.0.1 (BEP 3, 15, 23).

A libtorrent seed and a libtorrent leecher (two sessions, DHT, LSD, UPnP,
NAT-PMP and the default extensions such as PEX off, listening on 127.0.0.1)
announce over HTTP and over UDP and must complete a transfer whose only source
of peers is the tracker. aria2 (with DHT off it drops UDP trackers) downloads
from a libtorrent seed through the HTTP tracker. The seed is added first and
the tracker is polled until it lists it, so the leecher's first announce
already returns the seed.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm_testing import require_program
from free_ports import free_port

pytestmark = pytest.mark.interop

SIZE = 3 * 1024 * 1024 + 1234
TIMEOUT = 90.0


def session() -> Any:
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "alert_mask": 0,
    }
    return lt.session(settings, flags=0)  # flags=0: no default plugins, so no ut_pex


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "seed"
    folder.mkdir()
    (folder / "payload.bin").write_bytes(random.Random(3).randbytes(SIZE))
    return folder / "payload.bin"


def make_torrent(payload: Path, tracker_url: str) -> bytes:
    """A v1 torrent (aria2 reads no v2) announcing to ``tracker_url`` alone."""
    creator = lt.create_torrent(lt.list_files(str(payload)), 0, lt.create_torrent.v1_only)
    creator.add_tracker(tracker_url)
    lt.set_piece_hashes(creator, str(payload.parent))
    return bytes(lt.bencode(creator.generate()))


@pytest.fixture
async def tracker() -> AsyncIterator[TrackerServer]:
    config = TrackerConfig(
        http=("127.0.0.1", 0), udp=("127.0.0.1", 0), policy=TrackerPolicy(interval=30)
    )
    server = TrackerServer(config)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def sessions() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for s in made:
        s.pause()
    made.clear()


def add(ses: Any, torrent: bytes, save_path: Path) -> Any:
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = str(save_path)
    return ses.add_torrent(params)


async def wait_for(what: str, check: Any, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def until_tracker_lists(server: TrackerServer, seeders: int) -> None:
    assert server.context is not None
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while (await server.context.store.stats()).seeders < seeders:
        assert asyncio.get_running_loop().time() < deadline, f"tracker never had {seeders} seeders"
        await asyncio.sleep(0.2)


async def start_seed(server: TrackerServer, sessions: list[Any], torrent: bytes, at: Path) -> Any:
    seed_session = session()
    sessions.append(seed_session)
    seed = add(seed_session, torrent, at)
    await wait_for("the seed to check its data", lambda: seed.status().is_seeding)
    await until_tracker_lists(server, 1)
    return seed


@pytest.mark.parametrize("transport", ["http", "udp"])
async def test_libtorrent_peers_complete_a_transfer(
    tracker: TrackerServer, sessions: list[Any], content: Path, tmp_path: Path, transport: str
) -> None:
    address = tracker.http_address if transport == "http" else tracker.udp_address
    assert address is not None
    url = f"{transport}://127.0.0.1:{address[1]}/announce"
    torrent = make_torrent(content, url)
    await start_seed(tracker, sessions, torrent, content.parent)
    leech_session = session()
    sessions.append(leech_session)
    download = tmp_path / "leech"
    download.mkdir()
    leecher = add(leech_session, torrent, download)
    await wait_for("the leecher to finish", lambda: leecher.status().is_seeding)
    # libtorrent hashes pieces in memory: its copy reaches the disk a moment after it seeds.
    copy, original = download / "payload.bin", content.read_bytes()
    await wait_for("the copy on disk", lambda: copy.is_file() and copy.read_bytes() == original)
    assert tracker.context is not None
    metrics = tracker.context.metrics
    assert metrics.get(transport, "announces") >= 2  # type: ignore[arg-type]
    await until_tracker_lists(tracker, 2)  # the leecher announced "completed"


async def test_aria2_downloads_from_a_libtorrent_seed(
    tracker: TrackerServer, sessions: list[Any], content: Path, tmp_path: Path
) -> None:
    aria2c = require_program("aria2c")
    assert tracker.http_address is not None
    url = f"http://127.0.0.1:{tracker.http_address[1]}/announce"
    torrent = make_torrent(content, url)
    await start_seed(tracker, sessions, torrent, content.parent)
    torrent_file = tmp_path / "payload.torrent"
    torrent_file.write_bytes(torrent)
    download = tmp_path / "aria2"
    listen = free_port()
    process = await asyncio.create_subprocess_exec(
        aria2c, "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--enable-peer-exchange=false", f"--listen-port={listen}", "--seed-time=0",
        "--disable-ipv6=true", "--file-allocation=none", "--summary-interval=0",
        "--console-log-level=warn", "--bt-stop-timeout=80", f"--dir={download}",
        str(torrent_file),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, output.decode(errors="replace")
    assert (download / "payload.bin").read_bytes() == content.read_bytes()
    assert tracker.context is not None
    assert tracker.context.metrics.get("http", "announces") >= 2
