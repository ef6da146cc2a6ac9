"""The HTTP tracker's hot path: a plain announce, from raw query to reply body (BEP 3, 7, 23).

Nearly every request a busy HTTP tracker gets is the same kind of announce: a
compact one, each parameter once, no ``ip`` claim, in open mode. The general
path (:func:`~bitswarm.core.tracker.http_query.parse_announce`, an
:class:`~bitswarm.core.tracker.model.Announcement`, the store's
:class:`~bitswarm.core.tracker.model.AnnounceResult`, a dictionary for the
encoder) spends most of an announce's time on those objects. For a store
that answers inline, :func:`announce_inline` serves exactly the plain
announces from the split query with plain values, calling the store as the
UDP hot path does (:data:`~bitswarm.core.tracker.udp_server.InlineAnnounce`),
and writes the bencoded reply from a template. Anything else (a repeated or
escaped parameter name, a value out of range, ``compact=0``, an ``ip``
claim, a missing field) it declines with ``None``, and the general path
answers, with its precise ``failure reason`` where there is a fault. The two
answer byte for byte alike (a differential test checks it).
"""

from __future__ import annotations

from bitswarm.core.tracker.http_query import (
    EVENTS,
    MAX_COUNTER,
    MAX_DIGITS,
    MAX_QUERY_BYTES,
    unescape_value,
)
from bitswarm.core.tracker.model import (
    DEFAULT_NUMWANT,
    INFO_HASH_SIZE,
    MAX_NUMWANT,
    PEER_ID_SIZE,
)
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.udp_server import InlineAnnounce

_DECLINED = frozenset({b"ip", b"ipv4", b"ipv6", b"compact", b"no_peer_id"})
"""Parameters whose presence sends a request down the general path (``compact=1`` aside)."""


def announce_inline(
    query: bytes, ip: bytes, policy: TrackerPolicy, announce: InlineAnnounce, now: float
) -> bytes | None:
    """The reply body to a plain announce from packed ``ip``, or ``None`` for the general path."""
    if len(query) > MAX_QUERY_BYTES or policy.allow_claimed_ip:
        return None
    pairs = [pair.partition(b"=")[::2] for pair in query.split(b"&") if pair]
    params: dict[bytes, bytes] = dict(pairs)
    if len(params) != len(pairs):  # a name given twice
        return None
    if params.pop(b"compact", b"1") != b"1" or not _DECLINED.isdisjoint(params):
        return None
    try:
        raw_hash, raw_id = params[b"info_hash"], params[b"peer_id"]
        if query.count(b"%") != raw_hash.count(b"%") + raw_id.count(b"%"):
            return None  # the general path decodes, or refuses, every other escaped name or value
        info_hash, peer_id = unescape_value(raw_hash), unescape_value(raw_id)
        port = _number(params[b"port"])
        numbers = [_number(params[name]) for name in (b"uploaded", b"downloaded", b"left")]
        event = EVENTS[params.get(b"event", b"")]  # an Event is its BEP 15 number
        asked = params.get(b"numwant") or params.get(b"num_want")
        numwant = DEFAULT_NUMWANT if asked is None else min(_number(asked), MAX_NUMWANT)
    except (KeyError, ValueError):
        return None
    if (
        len(info_hash) != INFO_HASH_SIZE
        or len(peer_id) != PEER_ID_SIZE
        or not 1 <= port <= 0xFFFF
        or max(numbers) > MAX_COUNTER
        or (b"numwant" in params and b"num_want" in params)
    ):
        return None
    address = ip + port.to_bytes(2, "big")
    peers, seeders, leechers, downloaded = announce(
        info_hash, address, peer_id, not numbers[2], event, numwant, False, now
    )
    return _reply(policy, seeders, leechers, downloaded, peers)


def _number(value: bytes) -> int:
    """The general path's decimal rule (``[0-9]{1,MAX_DIGITS}``), with ``isdigit`` in C."""
    if not value.isdigit() or len(value) > MAX_DIGITS:
        raise ValueError(value)
    return int(value)


def _reply(
    policy: TrackerPolicy, seeders: int, leechers: int, downloaded: int, peers: tuple[bytes, ...]
) -> bytes:
    """The bencoded dictionary :func:`~bitswarm.core.tracker.http_reply.announce` makes, keys
    in their sorted order."""
    v4 = b"".join(peers)
    if len(v4) != 6 * len(peers):  # some are IPv6
        v4 = b"".join(peer for peer in peers if len(peer) == 6)
    body = b"d8:completei%de10:downloadedi%de10:incompletei%de8:intervali%de12:min intervali%de" % (
        seeders,
        downloaded,
        leechers,
        policy.interval,
        policy.effective_min_interval,
    )
    body += b"5:peers%d:%s" % (len(v4), v4)
    if len(v4) < 6 * len(peers):
        v6 = b"".join(peer for peer in peers if len(peer) != 6)
        body += b"6:peers6%d:%s" % (len(v6), v6)
    if policy.tracker_id:
        body += b"10:tracker id%d:%s" % (len(policy.tracker_id), policy.tracker_id)
    return body + b"e"
