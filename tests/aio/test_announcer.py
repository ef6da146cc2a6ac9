"""The announce life cycle against the embedded tracker on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from types import SimpleNamespace

import pytest

from bitswarm.aio import announcer as announcer_module
from bitswarm.aio.announcer import Announcer, Totals
from bitswarm.aio.tracker_client import AnnounceFailed, TrackerClient
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.tracker.model import Event
from bitswarm.core.tracker.policy import TrackerPolicy
from warning_tracker import WarningTracker

INFO_HASH = b"i" * 20


@pytest.fixture
async def tracker() -> AsyncIterator[TrackerServer]:
    policy = TrackerPolicy(interval=60, min_interval=0)
    server = TrackerServer(TrackerConfig(http=("127.0.0.1", 0), udp=None, policy=policy))
    await server.start()
    yield server
    await server.stop()


def _url(server: TrackerServer) -> str:
    assert server.http_address is not None
    host, port = server.http_address
    return f"http://{host}:{port}/announce"


class Peer:
    def __init__(self, url: str, port: int, left: int) -> None:
        self.client = TrackerClient([[url]])
        self.seen: list[tuple[str, int]] = []
        self.announcer = Announcer(
            self.client,
            INFO_HASH,
            bytes([port % 256]) * 20,
            port,
            lambda: Totals(0, 0, left),
            self.learn,
        )

    def learn(self, peers: Sequence[tuple[str, int]]) -> None:
        self.seen.extend(peers)

    async def close(self) -> None:
        await self.announcer.stop()
        await self.client.close()


async def _until(condition: object) -> None:
    async with asyncio.timeout(5):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_peers_learn_each_other_and_stopped_removes_them(tracker: TrackerServer) -> None:
    seed, leecher = Peer(_url(tracker), 6001, left=0), Peer(_url(tracker), 6002, left=100)
    seed.announcer.start()
    await _until(lambda: seed.announcer.announces == 1)
    leecher.announcer.start()
    await _until(lambda: leecher.announcer.announces == 1)
    assert ("127.0.0.1", 6001) in leecher.seen
    await seed.close()  # says "stopped"
    leecher.announcer.want_peers()  # the tracker allows it at once (min interval 0)
    await _until(lambda: leecher.announcer.announces == 2)
    assert leecher.seen.count(("127.0.0.1", 6001)) == 1
    await leecher.close()


async def test_completed_is_announced_at_once(tracker: TrackerServer) -> None:
    peer = Peer(_url(tracker), 6003, left=0)
    peer.announcer.start()
    await _until(lambda: peer.announcer.announces == 1)
    peer.announcer.completed()
    await _until(lambda: peer.announcer.announces == 2)
    await peer.close()


async def test_a_dead_tracker_is_reported_and_retried() -> None:
    peer = Peer("http://127.0.0.1:9/announce", 6004, left=10)
    peer.announcer.start()
    await _until(lambda: peer.announcer.last_error is not None)
    assert "every tracker failed" in (peer.announcer.last_error or "")
    assert "127.0.0.1:9" in (peer.announcer.last_error or "")
    assert peer.announcer.announces == 0
    await peer.close()


async def test_each_distinct_tracker_warning_is_kept_once() -> None:
    with WarningTracker("slow down", "ratio low", "slow down", "ratio low", "") as tracker:
        peer = Peer(tracker.url, 6005, left=10)
        peer.announcer.start()
        async with asyncio.timeout(5):
            while peer.announcer.announces < 5:
                peer.announcer.want_peers()  # the tracker allows it at once (min interval 0)
                await asyncio.sleep(0.01)
        await peer.close()
    assert tracker.sent[:5] == ["slow down", "ratio low", "slow down", "ratio low", ""]
    assert peer.announcer.warnings == [(tracker.url, "slow down"), (tracker.url, "ratio low")]


class FlakyClient:
    """A tracker client whose first ``failures`` announces fail; it records every event."""

    def __init__(self, failures: int, on_failure: Callable[[], None] = lambda: None) -> None:
        self.failures = failures
        self.on_failure = on_failure
        self.events: list[tuple[Event, bool]] = []

    async def announce(self, *args: object) -> SimpleNamespace:
        event = args[-1]
        assert isinstance(event, Event)
        if self.failures:
            self.failures -= 1
            self.events.append((event, False))
            self.on_failure()
            raise AnnounceFailed([("http://127.0.0.1:9/announce", "refused")])
        self.events.append((event, True))
        reply = SimpleNamespace(warning=None, min_interval=0, interval=60)
        return SimpleNamespace(tracker="http://127.0.0.1:9/announce", reply=reply, peers=[])


async def test_started_is_said_until_a_tracker_answers_then_completed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The download completes while the first announces fail: the tracker still hears
    ``started`` first, then ``completed``, each once answered."""
    monkeypatch.setattr(announcer_module, "FIRST_RETRY", 0.01)
    client = FlakyClient(failures=2)
    announcer = Announcer(client, INFO_HASH, b"p" * 20, 6006, lambda: Totals(0, 0, 0), list)
    client.on_failure = announcer.completed
    announcer.start()
    await _until(lambda: announcer.announces == 2)
    await announcer.stop()
    said = [event for event, answered in client.events if answered]
    assert [event for event, _ in client.events[:3]] == [Event.STARTED] * 3
    assert said == [Event.STARTED, Event.COMPLETED, Event.STOPPED]
