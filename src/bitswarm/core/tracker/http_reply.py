"""Bencoded HTTP tracker replies: announce, scrape and failure (BEP 3, 7, 23, 48).

An announce reply carries compact peers by default: IPv4 in ``peers`` (6
bytes each, BEP 23) and IPv6 in ``peers6`` (18 bytes each, BEP 7). A client
that asks ``compact=0`` gets BEP 3's list of dictionaries, without
``peer id`` if it also asked ``no_peer_id=1``. Every reply is a bencoded
dictionary sent with status 200, failures included, as clients expect.
"""

from __future__ import annotations

from collections.abc import Sequence

from bitswarm.core.bencode import Encodable, encode
from bitswarm.core.tracker.compact import V4_SIZE, unpack_address
from bitswarm.core.tracker.http_query import AnnounceQuery
from bitswarm.core.tracker.model import AnnounceResult, SwarmCounts
from bitswarm.core.tracker.policy import TrackerPolicy


def failure(reason: str) -> bytes:
    """A refusal: ``{"failure reason": ...}``."""
    return encode({"failure reason": reason})


def announce(
    result: AnnounceResult,
    query: AnnounceQuery,
    policy: TrackerPolicy,
    warning: str | None = None,
) -> bytes:
    """The reply to a successful announce."""
    counts = result.counts
    reply: dict[str, Encodable] = {
        "interval": policy.interval,
        "min interval": policy.effective_min_interval,
        "complete": counts.complete,
        "incomplete": counts.incomplete,
        "downloaded": counts.downloaded,
    }
    if query.compact:
        v4 = [p for p in result.peers if len(p) == V4_SIZE]
        reply["peers"] = b"".join(v4)
        if len(v4) < len(result.peers):
            reply["peers6"] = b"".join(p for p in result.peers if len(p) != V4_SIZE)
    elif query.no_peer_id:
        reply["peers"] = [_peer_dict(p) for p in result.peers]
    else:
        reply["peers"] = [
            _peer_dict(p, peer_id) for p, peer_id in zip(result.peers, result.peer_ids, strict=True)
        ]
    if policy.tracker_id:
        reply["tracker id"] = policy.tracker_id
    if warning:
        reply["warning message"] = warning
    return encode(reply)


def scrape(info_hashes: Sequence[bytes], counts: Sequence[SwarmCounts]) -> bytes:
    """``{"files": {info_hash: {complete, downloaded, incomplete}}}`` (BEP 48)."""
    files: dict[bytes, Encodable] = {
        info_hash: {
            "complete": c.complete,
            "downloaded": c.downloaded,
            "incomplete": c.incomplete,
        }
        for info_hash, c in zip(info_hashes, counts, strict=True)
    }
    return encode({"files": files})


def _peer_dict(address: bytes, peer_id: bytes | None = None) -> dict[str, Encodable]:
    host, port = unpack_address(address)
    entry: dict[str, Encodable] = {"ip": host, "port": port}
    if peer_id is not None:
        entry["peer id"] = peer_id
    return entry
