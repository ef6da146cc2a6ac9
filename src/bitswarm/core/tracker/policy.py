"""A tracker's announce policy, shared by its HTTP and UDP front ends (BEP 3, 7, 15).

The policy says how often peers come back (``interval``, ``min interval``),
how long a silent peer stays listed (twice the interval, as opentracker and
most trackers do), and which address a peer is listed under. A client may
claim another address with ``ip=`` (BEP 3) or the UDP ``ip`` field; honouring
that lets anyone list a victim's address in every swarm, so it is ignored
unless :attr:`TrackerPolicy.allow_claimed_ip` is set (for a tracker behind a
trusted gateway, or on a LAN).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.errors import QueryError
from bitswarm.core.tracker.http_query import AnnounceQuery
from bitswarm.core.tracker.model import Announcement

DEFAULT_INTERVAL = 1800
"""Seconds between a peer's announces, as opentracker and most public trackers use."""


@dataclass(frozen=True, slots=True)
class TrackerPolicy:
    """Timing and trust settings of one tracker."""

    interval: int = DEFAULT_INTERVAL
    min_interval: int | None = None
    """Seconds a client must wait between announces; half the interval if unset."""
    allow_claimed_ip: bool = False
    tracker_id: bytes = b""
    """Sent as ``tracker id`` in HTTP replies when not empty (BEP 3)."""

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"interval must be at least 1 second, not {self.interval}")
        if self.min_interval is not None and not 0 <= self.min_interval <= self.interval:
            raise ValueError(f"min_interval must be within 0..{self.interval}")

    @property
    def effective_min_interval(self) -> int:
        return self.interval // 2 if self.min_interval is None else self.min_interval

    @property
    def peer_ttl(self) -> float:
        """Seconds a peer stays listed after its last announce: two intervals."""
        return 2.0 * self.interval

    def listed_host(self, source_host: str, claimed: str | None) -> str:
        """The address to list a peer under: the packet's source unless a claim is allowed."""
        if claimed is None or not self.allow_claimed_ip:
            return source_host
        try:
            ipaddress.ip_address(claimed)
        except ValueError:
            raise QueryError(f"{claimed[:48]!r} is not an IP address", "ip") from None
        return claimed

    def warning(self, query: AnnounceQuery) -> str | None:
        """A ``warning message`` for the client, if its query asked for something ignored."""
        if query.ip is not None and not self.allow_claimed_ip:
            return "the ip parameter is ignored: peers are listed under their source address"
        return None

    def http_announcement(self, query: AnnounceQuery, source_host: str) -> Announcement:
        """Turn a checked HTTP query from ``source_host`` into the store's announcement."""
        return Announcement(
            info_hash=query.info_hash,
            peer_id=query.peer_id,
            address=pack_address(self.listed_host(source_host, query.ip), query.port),
            uploaded=query.uploaded,
            downloaded=query.downloaded,
            left=query.left,
            event=query.event,
            numwant=query.numwant,
            peer_ids_wanted=not (query.compact or query.no_peer_id),
        )
