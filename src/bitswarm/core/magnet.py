"""Magnet links: a torrent named by its info-hash alone (BEP 9, BEP 53).

A magnet link lets a client join a swarm before it holds the ``.torrent`` file:
the link carries the info-hash, a few places to find peers, and the client then
fetches the info dictionary from those peers (BEP 9's ``ut_metadata``).

Parameters understood (names are case-insensitive, values percent-encoded)::

    xt    exact topic: urn:btih:<40 hex or 32 base32> (v1 info-hash, BEP 9)
          and/or urn:btmh:1220<64 hex> (v2 info-hash as a sha2-256 multihash,
          BEP 9 and 52); both in one link describe one hybrid torrent
    dn    display name, shown until the metadata arrives
    xl    exact length of the content in bytes
    tr    tracker URL, repeatable; ``tr.1``, ``tr.2`` ... as some sites write them
    ws    web seed URL (BEP 19), repeatable
    x.pe  peer address ``ipv4:port``, ``[ipv6]:port`` or ``host:port`` (BEP 9)
    so    select-only file indices, ``0,2,4-6`` (BEP 53)

Theory of operation
-------------------
:func:`parse_magnet` splits the query, percent-decodes each value (``+`` is a
space, as libtorrent and Transmission read it) and turns each into its type;
:class:`Magnet` then checks the invariants that hold however it was built. Any
fault raises :class:`MagnetError` naming the parameter and what is wrong with
it. Parameters outside the list above (``xs``, ``as``, ``kt``, exact topics
such as ``urn:sha1``) are ignored, as every client does, but a link with no
BitTorrent exact topic is refused. File selections are kept as merged ranges,
so ``so=0-2000000000`` costs two integers, not a set of two billion.

:meth:`Magnet.to_uri` writes the canonical form, which :func:`parse_magnet`
reads back to an equal :class:`Magnet`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from bitswarm.core.metainfo import Torrent

SHA1_LENGTH = 20
SHA256_LENGTH = 32
SHA256_MULTIHASH = bytes([0x12, SHA256_LENGTH])
"""Multihash prefix of a sha2-256 digest: function code 0x12, length 0x20."""

MAX_FILE_INDEX = 2**31 - 1
"""Largest file index ``so`` accepts; no torrent has more files than this."""

_T = TypeVar("_T")
_SCHEME = "magnet:?"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/?#]+\S*", re.IGNORECASE)
_WEB_SEED_SCHEMES = ("http://", "https://")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*",
    re.IGNORECASE,
)
_KNOWN = frozenset({"xt", "dn", "xl", "tr", "ws", "x.pe", "so"})
_NUMBERED_TRACKER = re.compile(r"tr\.[0-9]{1,4}", re.IGNORECASE)
_PORT = re.compile(r"[0-9]{1,5}")
_LENGTH = re.compile(r"[0-9]{1,20}")
_RANGE = re.compile(r"([0-9]{1,10})(?:-([0-9]{1,10}))?")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_BASE32 = re.compile(r"[A-Za-z2-7]+")


class MagnetError(ValueError):
    """A malformed magnet link: ``parameter`` names where, ``reason`` says what."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"magnet link: {parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """A peer to dial for the metadata (``x.pe``): an IP literal or host name, and a port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise MagnetError("x.pe", f"port {self.port} is outside 1-65535")
        _check_text("x.pe", self.host)
        if ":" in self.host:
            try:
                ipaddress.IPv6Address(self.host)
            except ValueError:
                raise MagnetError("x.pe", f"not an IPv6 address: {self.host!r}") from None
        elif re.fullmatch(r"[0-9.]+", self.host):
            try:
                ipaddress.IPv4Address(self.host)
            except ValueError:
                raise MagnetError("x.pe", f"not an IPv4 address: {self.host!r}") from None
        elif not _HOSTNAME.fullmatch(self.host):
            raise MagnetError("x.pe", f"not a host name: {self.host!r}")

    @classmethod
    def parse(cls, text: str) -> PeerAddress:
        """Read ``1.2.3.4:6881``, ``[::1]:6881`` or ``peer.example:6881``."""
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket or not rest.startswith(":"):
                raise MagnetError("x.pe", f"expected [ipv6]:port, got {text!r}")
            if ":" not in host:
                raise MagnetError("x.pe", f"only IPv6 addresses go in brackets: {text!r}")
            port_text = rest[1:]
        else:
            host, colon, port_text = text.rpartition(":")
            if not colon:
                raise MagnetError("x.pe", f"no port in {text!r}")
            if ":" in host:
                raise MagnetError("x.pe", f"an IPv6 address needs brackets: {text!r}")
        if not _PORT.fullmatch(port_text):
            raise MagnetError("x.pe", f"not a port number: {port_text!r}")
        return cls(host, int(port_text))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, order=True)
class FileRange:
    """File indices ``first`` to ``last``, both included (one term of BEP 53's ``so``)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 0 <= self.first <= self.last <= MAX_FILE_INDEX:
            raise MagnetError("so", f"bad file range {self.first}-{self.last}")

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


def parse_selection(text: str) -> tuple[FileRange, ...]:
    """BEP 53's ``0,2,4-6`` as sorted, merged ranges."""
    ranges = []
    for term in text.split(","):
        match = _RANGE.fullmatch(term)
        if not match:
            raise MagnetError("so", f"expected an index or a range like 4-6, got {term!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first > last:
            raise MagnetError("so", f"range {term!r} runs backwards")
        if last > MAX_FILE_INDEX:
            raise MagnetError("so", f"file index {last} is larger than {MAX_FILE_INDEX}")
        ranges.append(FileRange(first, last))
    return _merge(ranges)


def _merge(ranges: Iterable[FileRange]) -> tuple[FileRange, ...]:
    merged: list[FileRange] = []
    for item in sorted(ranges):
        if merged and item.first <= merged[-1].last + 1:
            if item.last > merged[-1].last:
                merged[-1] = FileRange(merged[-1].first, item.last)
        else:
            merged.append(item)
    return tuple(merged)


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True, slots=True)
class Magnet:
    """A parsed magnet link. At least one info-hash; both for a hybrid torrent.

    Construction normalises (duplicate trackers, web seeds and peers dropped in
    order; file ranges sorted and merged) and validates, raising
    :class:`MagnetError`.
    """

    info_hash_v1: bytes | None = None
    info_hash_v2: bytes | None = None
    display_name: str | None = None
    exact_length: int | None = None
    trackers: tuple[str, ...] = ()
    web_seeds: tuple[str, ...] = ()
    peers: tuple[PeerAddress, ...] = ()
    select_only: tuple[FileRange, ...] = ()

    def __post_init__(self) -> None:
        if self.info_hash_v1 is None and self.info_hash_v2 is None:
            raise MagnetError("xt", "no urn:btih or urn:btmh exact topic")
        if self.info_hash_v1 is not None and len(self.info_hash_v1) != SHA1_LENGTH:
            raise MagnetError("xt", f"a v1 info-hash has 20 bytes, not {len(self.info_hash_v1)}")
        if self.info_hash_v2 is not None and len(self.info_hash_v2) != SHA256_LENGTH:
            raise MagnetError("xt", f"a v2 info-hash has 32 bytes, not {len(self.info_hash_v2)}")
        if self.display_name is not None:
            _check_text("dn", self.display_name)
        if self.exact_length is not None and self.exact_length < 0:
            raise MagnetError("xl", f"negative length {self.exact_length}")
        for url in self.trackers:
            _check_url("tr", url)
        for url in self.web_seeds:
            _check_url("ws", url)
            if not url.lower().startswith(_WEB_SEED_SCHEMES):
                raise MagnetError("ws", f"a web seed is an http or https URL, not {url!r}")
        object.__setattr__(self, "trackers", _unique(self.trackers))
        object.__setattr__(self, "web_seeds", _unique(self.web_seeds))
        object.__setattr__(self, "peers", _unique(self.peers))
        object.__setattr__(self, "select_only", _merge(self.select_only))

    @classmethod
    def from_torrent(cls, torrent: Torrent) -> Magnet:
        """The link to ``torrent``: its info-hashes, name, size, trackers and web seeds.

        BEP 12 tiers flatten into one ``tr`` list in tier order, which is how
        clients read them back (each tracker then a tier of its own).
        """
        return cls(
            info_hash_v1=torrent.info_hash_v1,
            info_hash_v2=torrent.info_hash_v2,
            display_name=torrent.name,
            exact_length=torrent.total_size,
            trackers=tuple(url for tier in torrent.trackers for url in tier),
            web_seeds=torrent.web_seeds,
        )

    @property
    def version(self) -> str:
        """``v1``, ``v2`` or ``hybrid``: which info-hashes the link carries."""
        if self.info_hash_v2 is None:
            return "v1"
        return "v2" if self.info_hash_v1 is None else "hybrid"

    @property
    def selection_text(self) -> str | None:
        """The ``so`` value (``0,2,4-6``), or None when every file is wanted."""
        return ",".join(map(str, self.select_only)) or None

    def to_uri(self) -> str:
        """The link in canonical form: hex hashes, parameters in a fixed order."""
        params: list[tuple[str, str]] = []
        if self.info_hash_v1 is not None:
            params.append(("xt", "urn:btih:" + self.info_hash_v1.hex()))
        if self.info_hash_v2 is not None:
            params.append(("xt", "urn:btmh:" + (SHA256_MULTIHASH + self.info_hash_v2).hex()))
        if self.display_name is not None:
            params.append(("dn", quote(self.display_name, safe="")))
        if self.exact_length is not None:
            params.append(("xl", str(self.exact_length)))
        params += [("tr", quote(url, safe=":/")) for url in self.trackers]
        params += [("ws", quote(url, safe=":/")) for url in self.web_seeds]
        params += [("x.pe", quote(str(peer), safe=":")) for peer in self.peers]
        if self.selection_text is not None:
            params.append(("so", self.selection_text))
        return _SCHEME + "&".join(f"{name}={value}" for name, value in params)


def _check_text(name: str, value: str) -> None:
    control = _CONTROL.search(value)
    if control:
        raise MagnetError(name, f"control character {control.group()!r} in {value[:60]!r}")


def _check_url(name: str, url: str) -> None:
    _check_text(name, url)
    if not _URL.fullmatch(url):
        raise MagnetError(name, f"not a URL: {url[:200]!r}")


def parse_magnet(text: str) -> Magnet:
    """Read a magnet link; raises :class:`MagnetError` naming the parameter at fault."""
    if text[: len(_SCHEME)].lower() != _SCHEME:
        raise MagnetError("scheme", f"a magnet link starts with 'magnet:?', got {text[:40]!r}")
    single: dict[str, str] = {}
    v1: bytes | None = None
    v2: bytes | None = None
    trackers: list[str] = []
    web_seeds: list[str] = []
    peers: list[PeerAddress] = []
    for part in text[len(_SCHEME) :].split("&"):
        if not part:
            continue
        raw_name, equals, raw_value = part.partition("=")
        name = "tr" if _NUMBERED_TRACKER.fullmatch(raw_name) else raw_name.lower()
        if name not in _KNOWN:
            continue
        if not equals:
            raise MagnetError(name, "parameter has no '=value'")
        value = _unquote(name, raw_value)
        if name == "xt":
            topic = _exact_topic(value)
            if topic is not None and len(topic) == SHA1_LENGTH:
                v1 = _once("xt", "urn:btih", v1, topic)
            elif topic is not None:
                v2 = _once("xt", "urn:btmh", v2, topic)
        elif name == "tr":
            trackers.append(value)
        elif name == "ws":
            web_seeds.append(value)
        elif name == "x.pe":
            peers.append(PeerAddress.parse(value))
        else:
            if name in single:
                raise MagnetError(name, "given more than once")
            single[name] = value
    return Magnet(
        info_hash_v1=v1,
        info_hash_v2=v2,
        display_name=single.get("dn"),
        exact_length=_length(single.get("xl")),
        trackers=tuple(trackers),
        web_seeds=tuple(web_seeds),
        peers=tuple(peers),
        select_only=parse_selection(single["so"]) if "so" in single else (),
    )


def _once(name: str, what: str, current: bytes | None, new: bytes) -> bytes:
    if current is not None and current != new:
        raise MagnetError(name, f"two different {what} info-hashes")
    return new


def _unquote(name: str, raw: str) -> str:
    bad = _BAD_ESCAPE.search(raw)
    if bad:
        raise MagnetError(name, f"bad percent escape {raw[bad.start() : bad.start() + 3]!r}")
    try:
        value = unquote(raw.replace("+", " "), errors="strict")
    except UnicodeDecodeError:
        raise MagnetError(name, "value is not UTF-8 once percent-decoded") from None
    if not value:
        raise MagnetError(name, "empty value")
    return value


def _exact_topic(value: str) -> bytes | None:
    """The info-hash in a BitTorrent ``xt`` (20 or 32 bytes); None for other URNs."""
    urn, _, digest = value.rpartition(":")
    urn = urn.lower()
    if urn == "urn:btih":
        if len(digest) == 2 * SHA1_LENGTH and _HEX.fullmatch(digest):
            return bytes.fromhex(digest)
        if len(digest) == 32 and _BASE32.fullmatch(digest):
            return base64.b32decode(digest.upper())
        raise MagnetError("xt", f"urn:btih takes 40 hex or 32 base32 characters, got {digest!r}")
    if urn == "urn:btmh":
        if not _HEX.fullmatch(digest) or len(digest) % 2:
            raise MagnetError("xt", f"urn:btmh takes a hex multihash, got {digest[:80]!r}")
        multihash = binascii.unhexlify(digest)
        if multihash[:2] != SHA256_MULTIHASH or len(multihash) != 2 + SHA256_LENGTH:
            raise MagnetError(
                "xt",
                f"urn:btmh must be a sha2-256 multihash (1220 and 64 hex), got {digest[:80]!r}",
            )
        return multihash[2:]
    return None


def _length(text: str | None) -> int | None:
    if text is None:
        return None
    if not _LENGTH.fullmatch(text):
        raise MagnetError("xl", f"not a length in bytes: {text[:40]!r}")
    return int(text)
