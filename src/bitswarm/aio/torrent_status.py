"""What a running torrent reports: progress, rates, peers, ETA (for displays and summaries).

A frozen snapshot, taken by :meth:`~bitswarm.aio.torrent_runner.TorrentRunner.status`
from the torrent state machine's own counters (payload bytes, per-peer rate
meters), so the progress bars, the demo's summary and the tracker's
``uploaded``/``downloaded``/``left`` all read the same numbers. Progress and
time left count the wanted pieces only: a download that skips files is
complete when the files it wants are
(:mod:`bitswarm.core.swarm.totals`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TorrentStatus:
    """One moment of a torrent, for the progress display and the demo's summary."""

    name: str
    size: int
    """Bytes of the pieces the download wants: the whole torrent unless files are skipped."""
    verified: int
    """Bytes of those pieces verified."""
    uploaded: int
    downloaded: int
    up_rate: float
    down_rate: float
    peers: int
    complete: bool
    """Every wanted piece is verified."""
    error: str | None
    tracker_warnings: tuple[tuple[str, str], ...] = ()
    """``(tracker URL, message)`` of each distinct warning its trackers sent, oldest first."""

    @property
    def fraction(self) -> float:
        return self.verified / self.size if self.size else 1.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, ``None`` when nothing is coming in."""

        if self.complete:
            return 0.0
        return (self.size - self.verified) / self.down_rate if self.down_rate > 0 else None
