"""``run_until``: the peer commands react to a torrent finishing or stopping at once.

The commands look at their torrent every ``POLL`` seconds (peers, a seed
ratio); here the poll is an hour, so a wait that only polled would never end
within the test's time-out.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from bitswarm.cli import peer_session
from bitswarm.cli.errors import UserError

TIME_OUT = 10.0
"""Seconds a test waits for ``run_until`` before it counts as stuck."""


def runner() -> Any:
    """The parts of a TorrentRunner that ``run_until`` reads."""
    return SimpleNamespace(
        finished=asyncio.Event(), ended=asyncio.Event(), connections={"peer": None}, error=""
    )


async def test_the_wait_ends_when_the_torrent_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peer_session, "POLL", 3600.0)
    torrent = runner()
    asyncio.get_running_loop().call_later(0.01, torrent.finished.set)
    await asyncio.wait_for(peer_session.run_until(torrent, torrent.finished.is_set, None), TIME_OUT)
    await asyncio.sleep(0)  # the cancelled waits finish
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_the_wait_ends_with_the_reason_when_the_torrent_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peer_session, "POLL", 3600.0)
    torrent = runner()
    torrent.error = "disk full"
    asyncio.get_running_loop().call_later(0.01, torrent.ended.set)
    with pytest.raises(UserError, match="disk full"):
        await asyncio.wait_for(peer_session.run_until(torrent, lambda: False, None), TIME_OUT)


async def test_a_finished_torrent_is_still_polled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeding to a ratio: ``finished`` is set already and ``done()`` turns true later."""
    monkeypatch.setattr(peer_session, "POLL", 0.01)
    torrent = runner()
    torrent.finished.set()
    looks: list[None] = []

    def done() -> bool:
        looks.append(None)
        return len(looks) > 3

    await asyncio.wait_for(peer_session.run_until(torrent, done, None), TIME_OUT)
    assert len(looks) == 4
