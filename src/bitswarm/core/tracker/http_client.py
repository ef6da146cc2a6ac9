"""The client side of the HTTP tracker protocol, sans-I/O (BEP 3, 7, 23, 48).

Two halves: building the GET URLs of an announce and a scrape, and parsing
the bencoded bodies that come back. The aiohttp adapter in
:mod:`bitswarm.aio.tracker_client` does nothing but fetch.

URLs. ``info_hash``, ``peer_id`` and ``trackerid`` are raw bytes, so each byte
outside RFC 3986's unreserved set is percent-encoded by hand; handing them to a
URL library as text would mangle them. The tracker's own query (a private
tracker's ``passkey``) is kept and ours is appended after it. ``compact=1`` is
always asked for (BEP 23). A scrape URL exists only when the announce path's
last segment starts with ``announce`` (BEP 48); otherwise the tracker has no
scrape and :class:`ScrapeUnsupported` says so.

Replies. A ``failure reason`` wins over every other key and raises
:class:`TrackerFailure`. Anything else malformed raises :class:`ReplyError`
naming the key. Peers come as a compact string (BEP 23) or as BEP 3's list of
dictionaries, plus ``peers6`` (BEP 7); all are merged into one tuple of
``(host, port)``. Replies are decoded leniently (unsorted keys are accepted):
a client gains nothing by refusing a tracker over key order.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote_from_bytes, urlsplit, urlunsplit

from bitswarm.core.bencode import BencodeError, Value, decode
from bitswarm.core.tracker.client_model import (
    AnnounceParams,
    AnnounceReply,
    ReplyError,
    TrackerFailure,
)
from bitswarm.core.tracker.compact import V4_SIZE, V6_SIZE, Address, unpack_peers
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.model import INFO_HASH_SIZE, Event, SwarmCounts

_EVENT_NAMES = {
    Event.COMPLETED: "completed",
    Event.STARTED: "started",
    Event.STOPPED: "stopped",
}


class ScrapeUnsupported(ValueError):
    """The announce URL has no scrape counterpart under BEP 48's rule."""


def _escape(raw: bytes) -> str:
    return quote_from_bytes(raw, safe="")


def _with_query(url: str, pairs: Iterable[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    ours = "&".join(f"{name}={value}" for name, value in pairs)
    query = f"{parts.query}&{ours}" if parts.query else ours
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def announce_url(base: str, params: AnnounceParams, tracker_id: bytes | None = None) -> str:
    """The GET URL of an announce to the tracker at ``base`` (BEP 3, 23).

    ``tracker_id`` is the ``tracker id`` the same tracker sent last time.
    """
    pairs = [
        ("info_hash", _escape(params.info_hash)),
        ("peer_id", _escape(params.peer_id)),
        ("port", str(params.port)),
        ("uploaded", str(params.uploaded)),
        ("downloaded", str(params.downloaded)),
        ("left", str(params.left)),
        ("compact", "1"),
    ]
    if params.event in _EVENT_NAMES:
        pairs.append(("event", _EVENT_NAMES[params.event]))
    if params.numwant is not None:
        pairs.append(("numwant", str(params.numwant)))
    if params.key is not None:
        pairs.append(("key", f"{params.key:08x}"))
    if tracker_id is not None:
        pairs.append(("trackerid", _escape(tracker_id)))
    if params.ip is not None:
        pairs.append(("ip", _escape(params.ip.encode())))
    return _with_query(base, pairs)


def scrape_url(announce: str, info_hashes: Iterable[bytes]) -> str:
    """The GET URL that scrapes ``info_hashes`` from the tracker announcing at ``announce``."""
    parts = urlsplit(announce)
    head, _, last = parts.path.rpartition("/")
    if not last.startswith("announce"):
        raise ScrapeUnsupported(f"{announce}: the path does not end in 'announce', so no scrape")
    path = f"{head}/scrape{last[len('announce') :]}"
    pairs = []
    for info_hash in info_hashes:
        if len(info_hash) != INFO_HASH_SIZE:
            raise ValueError(f"info_hash is {len(info_hash)} bytes, not {INFO_HASH_SIZE}")
        pairs.append(("info_hash", _escape(info_hash)))
    return _with_query(urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), pairs)


def _top_dict(body: bytes, what: str) -> dict[bytes, Value]:
    try:
        top = decode(body, strict=False)
    except BencodeError as error:
        raise ReplyError(
            f"{what} is not bencode: {error.reason}", f"at byte {error.offset}"
        ) from None
    if not isinstance(top, dict):
        raise ReplyError(f"{what} is not a dictionary", "top level")
    reason = top.get(b"failure reason")
    if reason is not None:
        if not isinstance(reason, bytes):
            raise ReplyError("is not a string", "key 'failure reason'")
        raise TrackerFailure(reason.decode("utf-8", "replace"))
    return top


def _count(table: dict[bytes, Value], key: bytes, where: str) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise ReplyError(f"{value!r} is not a non-negative integer", f"{where} {key.decode()!r}")
    return value


def _compact(table: dict[bytes, Value], key: bytes, stride: int) -> list[Address]:
    blob = table[key]
    assert isinstance(blob, bytes)
    try:
        return unpack_peers(blob, stride)
    except TrackerMessageError as error:
        raise ReplyError(error.reason, f"key {key.decode()!r}") from None


def _dict_peer(entry: Value, index: int) -> Address:
    where = f"key 'peers' entry {index}"
    if not isinstance(entry, dict):
        raise ReplyError("is not a dictionary", where)
    ip, port = entry.get(b"ip"), entry.get(b"port")
    if not isinstance(ip, bytes) or not ip:
        raise ReplyError("has no 'ip' string", where)
    if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise ReplyError(f"has port {port!r}, not an integer in 0..65535", where)
    try:
        host = ip.decode("ascii")
    except UnicodeDecodeError:
        raise ReplyError("has an 'ip' that is not ASCII text", where) from None
    return host, port


def _peers(top: dict[bytes, Value]) -> tuple[Address, ...]:
    peers = top.get(b"peers")
    peers6 = top.get(b"peers6")
    if peers is None and peers6 is None:
        raise ReplyError("is missing", "key 'peers'")
    found: list[Address] = []
    if isinstance(peers, bytes):
        found += _compact(top, b"peers", V4_SIZE)
    elif isinstance(peers, list):
        found += [_dict_peer(entry, i) for i, entry in enumerate(peers)]
    elif peers is not None:
        raise ReplyError("is neither a compact string nor a list", "key 'peers'")
    if isinstance(peers6, bytes):
        found += _compact(top, b"peers6", V6_SIZE)
    elif peers6 is not None:
        raise ReplyError("is not a compact string", "key 'peers6'")
    # Port 0 is well-formed but cannot be dialled; trackers send it for peers behind NAT.
    return tuple(peer for peer in found if peer[1])


def _text(top: dict[bytes, Value], key: bytes) -> str | None:
    value = top.get(key)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ReplyError("is not a string", f"key {key.decode()!r}")
    return value.decode("utf-8", "replace")


def parse_announce_reply(body: bytes) -> AnnounceReply:
    """Parse an HTTP announce reply body; raises TrackerFailure or ReplyError."""
    top = _top_dict(body, "announce reply")
    interval = _count(top, b"interval", "key")
    if interval is None:
        raise ReplyError("is missing", "key 'interval'")
    tracker_id = top.get(b"tracker id")
    if tracker_id is not None and not isinstance(tracker_id, bytes):
        raise ReplyError("is not a string", "key 'tracker id'")
    return AnnounceReply(
        interval=interval,
        peers=_peers(top),
        min_interval=_count(top, b"min interval", "key"),
        complete=_count(top, b"complete", "key"),
        incomplete=_count(top, b"incomplete", "key"),
        tracker_id=tracker_id,
        warning=_text(top, b"warning message"),
    )


def parse_scrape_reply(body: bytes) -> dict[bytes, SwarmCounts]:
    """Parse an HTTP scrape reply body (BEP 48) into counts per info-hash.

    A count the tracker leaves out is taken as 0.
    """
    top = _top_dict(body, "scrape reply")
    files = top.get(b"files")
    if not isinstance(files, dict):
        raise ReplyError("is missing or not a dictionary", "key 'files'")
    counts: dict[bytes, SwarmCounts] = {}
    for info_hash, stats in files.items():
        where = f"key 'files' entry {info_hash.hex()}"
        if len(info_hash) != INFO_HASH_SIZE:
            raise ReplyError(f"info-hash of {len(info_hash)} bytes, not {INFO_HASH_SIZE}", where)
        if not isinstance(stats, dict):
            raise ReplyError("is not a dictionary", where)
        counts[info_hash] = SwarmCounts(
            complete=_count(stats, b"complete", where) or 0,
            incomplete=_count(stats, b"incomplete", where) or 0,
            downloaded=_count(stats, b"downloaded", where) or 0,
        )
    return counts
