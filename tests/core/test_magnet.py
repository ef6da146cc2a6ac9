"""Magnet links (BEP 9, BEP 53): parsing, faults named precisely, canonical round trip."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.magnet import (
    FileRange,
    Magnet,
    MagnetError,
    PeerAddress,
    parse_magnet,
    parse_selection,
)
from bitswarm.core.metainfo import build_torrent

V1 = bytes.fromhex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
V2 = bytes(range(32))
BTIH = "xt=urn:btih:" + V1.hex()
BTMH = "xt=urn:btmh:1220" + V2.hex()


def test_v1_hex_link() -> None:
    magnet = parse_magnet(f"magnet:?{BTIH}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft.example%3A80")
    assert magnet.info_hash_v1 == V1
    assert magnet.info_hash_v2 is None
    assert magnet.display_name == "Big Buck Bunny"
    assert magnet.trackers == ("udp://t.example:80",)


def test_v1_base32_and_upper_case_hex_name_the_same_torrent() -> None:
    base32 = base64.b32encode(V1).decode()
    assert len(base32) == 32
    assert parse_magnet(f"magnet:?xt=urn:btih:{base32}").info_hash_v1 == V1
    assert parse_magnet(f"magnet:?xt=urn:btih:{base32.lower()}").info_hash_v1 == V1
    assert parse_magnet(f"MAGNET:?XT=URN:BTIH:{V1.hex().upper()}").info_hash_v1 == V1


def test_v2_and_hybrid() -> None:
    assert parse_magnet(f"magnet:?{BTMH}").info_hash_v2 == V2
    hybrid = parse_magnet(f"magnet:?{BTIH}&{BTMH}")
    assert (hybrid.info_hash_v1, hybrid.info_hash_v2) == (V1, V2)


def test_every_parameter() -> None:
    link = (
        f"magnet:?{BTIH}&dn=x&xl=1048576&tr=http://a.example/announce"
        "&tr.1=http://b.example/announce&tr.2=http://a.example/announce"
        "&ws=https://seed.example/files/&x.pe=127.0.0.1:6881&x.pe=%5B::1%5D:6882"
        "&x.pe=peer.example:51413&so=6-8,0,2,4&xs=http://ignored.example/x.torrent"
    )
    magnet = parse_magnet(link)
    assert magnet.exact_length == 1048576
    assert magnet.trackers == ("http://a.example/announce", "http://b.example/announce")
    assert magnet.web_seeds == ("https://seed.example/files/",)
    assert magnet.peers == (
        PeerAddress("127.0.0.1", 6881),
        PeerAddress("::1", 6882),
        PeerAddress("peer.example", 51413),
    )
    assert magnet.select_only == (
        FileRange(0, 0),
        FileRange(2, 2),
        FileRange(4, 4),
        FileRange(6, 8),
    )
    assert magnet.selection_text == "0,2,4,6-8"


def test_other_exact_topics_are_ignored() -> None:
    magnet = parse_magnet(f"magnet:?xt=urn:sha1:ABCDEF&{BTIH}&kt=a+b")
    assert magnet == Magnet(info_hash_v1=V1)


def test_selection_merges_overlaps_without_expanding_ranges() -> None:
    assert parse_selection("3,1-2,0,10-2000000000") == (
        FileRange(0, 3),
        FileRange(10, 2000000000),
    )
    assert parse_selection("5-9,7-12,1") == (FileRange(1, 1), FileRange(5, 12))


def test_canonical_uri() -> None:
    magnet = Magnet(
        info_hash_v1=V1,
        info_hash_v2=V2,
        display_name="a&b c+d/é",
        trackers=("http://t.example/a?x=1&y=2",),
        peers=(PeerAddress("::1", 80),),
        select_only=(FileRange(4, 6), FileRange(0, 0)),
    )
    assert magnet.to_uri() == (
        f"magnet:?{BTIH}&{BTMH}&dn=a%26b%20c%2Bd%2F%C3%A9"
        "&tr=http://t.example/a%3Fx%3D1%26y%3D2&x.pe=%5B::1%5D:80&so=0,4-6"
    )
    assert parse_magnet(magnet.to_uri()) == magnet


@pytest.mark.parametrize(
    ("link", "parameter", "fault"),
    [
        ("http://example.com/", "scheme", "starts with 'magnet:?'"),
        ("magnet:?dn=x", "xt", "no urn:btih or urn:btmh"),
        ("magnet:?xt=urn:btih:abc", "xt", "40 hex or 32 base32"),
        ("magnet:?xt=urn:btih:" + "g" * 40, "xt", "40 hex or 32 base32"),
        ("magnet:?xt=urn:btmh:1114" + "00" * 20, "xt", "sha2-256 multihash"),
        ("magnet:?xt=urn:btmh:1220" + "00" * 31, "xt", "sha2-256 multihash"),
        ("magnet:?xt=urn:btmh:12z", "xt", "hex multihash"),
        (f"magnet:?{BTIH}&xt=urn:btih:{'0' * 40}", "xt", "two different urn:btih"),
        (f"magnet:?{BTIH}&dn=a&dn=b", "dn", "more than once"),
        (f"magnet:?{BTIH}&dn", "dn", "no '=value'"),
        (f"magnet:?{BTIH}&dn=", "dn", "empty value"),
        (f"magnet:?{BTIH}&dn=a%0Ab", "dn", "control character"),
        (f"magnet:?{BTIH}&dn=%E9", "dn", "not UTF-8"),
        (f"magnet:?{BTIH}&tr=%4", "tr", "bad percent escape '%4'"),
        (f"magnet:?{BTIH}&tr=tracker.example", "tr", "not a URL"),
        (f"magnet:?{BTIH}&ws=ftp://seed.example/", "ws", "http or https"),
        (f"magnet:?{BTIH}&xl=-5", "xl", "not a length"),
        (f"magnet:?{BTIH}&xl=1e9", "xl", "not a length"),
        (f"magnet:?{BTIH}&x.pe=127.0.0.1", "x.pe", "no port"),
        (f"magnet:?{BTIH}&x.pe=127.0.0.1:0", "x.pe", "outside 1-65535"),
        (f"magnet:?{BTIH}&x.pe=127.0.0.1:99999", "x.pe", "outside 1-65535"),
        (f"magnet:?{BTIH}&x.pe=127.0.0.1:http", "x.pe", "not a port number"),
        (f"magnet:?{BTIH}&x.pe=::1:80", "x.pe", "needs brackets"),
        (f"magnet:?{BTIH}&x.pe=[::1]80", "x.pe", "expected [ipv6]:port"),
        (f"magnet:?{BTIH}&x.pe=[127.0.0.1]:80", "x.pe", "only IPv6"),
        (f"magnet:?{BTIH}&x.pe=[fe80::zz]:80", "x.pe", "not an IPv6 address"),
        (f"magnet:?{BTIH}&x.pe=1.2.3.256:80", "x.pe", "not an IPv4 address"),
        (f"magnet:?{BTIH}&x.pe=bad_host:80", "x.pe", "not a host name"),
        (f"magnet:?{BTIH}&x.pe=%5Bfe80::1%25a%1Bb%5D:80", "x.pe", "control character"),
        (f"magnet:?{BTIH}&so=1,,2", "so", "got ''"),
        (f"magnet:?{BTIH}&so=5-2", "so", "runs backwards"),
        (f"magnet:?{BTIH}&so=9999999999", "so", "larger than"),
    ],
)
def test_faults_name_the_parameter(link: str, parameter: str, fault: str) -> None:
    with pytest.raises(MagnetError) as caught:
        parse_magnet(link)
    assert caught.value.parameter == parameter
    assert fault in caught.value.reason
    assert str(caught.value).startswith(f"magnet link: {parameter}: ")


def test_construction_validates() -> None:
    with pytest.raises(MagnetError, match="20 bytes, not 32"):
        Magnet(info_hash_v1=V2)
    with pytest.raises(MagnetError, match="32 bytes, not 20"):
        Magnet(info_hash_v2=V1)
    with pytest.raises(MagnetError, match="negative length"):
        Magnet(info_hash_v1=V1, exact_length=-1)
    with pytest.raises(MagnetError, match="bad file range 3-2"):
        FileRange(3, 2)


def test_construction_normalises() -> None:
    magnet = Magnet(
        info_hash_v1=V1,
        trackers=("http://a/", "http://b/", "http://a/"),
        peers=(PeerAddress("127.0.0.1", 1), PeerAddress("127.0.0.1", 1)),
        select_only=(FileRange(2, 3), FileRange(0, 1)),
    )
    assert magnet.trackers == ("http://a/", "http://b/")
    assert magnet.peers == (PeerAddress("127.0.0.1", 1),)
    assert magnet.select_only == (FileRange(0, 3),)


def test_from_torrent_flattens_tiers_in_order() -> None:
    info = {"name": "file.bin", "piece length": 16384, "length": 5, "pieces": bytes(20)}
    torrent = build_torrent(
        info,
        trackers=[["http://a.example/1", "udp://b.example:2"], ["http://c.example/3"]],
        web_seeds=["https://seed.example/file.bin"],
    )
    magnet = Magnet.from_torrent(torrent)
    assert magnet.info_hash_v1 == torrent.info_hash_v1
    assert magnet.info_hash_v2 is None
    assert magnet.version == "v1"
    assert (magnet.display_name, magnet.exact_length) == ("file.bin", 5)
    assert magnet.trackers == ("http://a.example/1", "udp://b.example:2", "http://c.example/3")
    assert magnet.web_seeds == ("https://seed.example/file.bin",)
    assert parse_magnet(magnet.to_uri()) == magnet


# --- properties -------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_hostnames = (
    st.lists(_label, min_size=1, max_size=3)
    .map(".".join)
    .filter(lambda name: not all(part.isdigit() for part in name.split(".")))
)
_hosts = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(lambda a: a.compressed), _hostnames
)
_peers = st.builds(PeerAddress, _hosts, st.integers(1, 65535))
_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), min_size=1
).filter(lambda text: not any(ord(c) < 0x20 for c in text))
_urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https", "udp", "wss"]),
    _hostnames,
    st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), max_size=20),
)
_web_urls = _urls.filter(lambda url: url.startswith("http"))
_ranges = st.tuples(st.integers(0, 1000), st.integers(0, 1000)).map(
    lambda pair: FileRange(min(pair), max(pair))
)
_hashes = st.one_of(
    st.tuples(st.binary(min_size=20, max_size=20), st.none() | st.binary(min_size=32, max_size=32)),
    st.tuples(st.none(), st.binary(min_size=32, max_size=32)),
)


@st.composite
def magnets(draw: st.DrawFn) -> Magnet:
    v1, v2 = draw(_hashes)
    return Magnet(
        info_hash_v1=v1,
        info_hash_v2=v2,
        display_name=draw(st.none() | _text),
        exact_length=draw(st.none() | st.integers(0, 2**64)),
        trackers=tuple(draw(st.lists(_urls, max_size=4))),
        web_seeds=tuple(draw(st.lists(_web_urls, max_size=2))),
        peers=tuple(draw(st.lists(_peers, max_size=3))),
        select_only=tuple(draw(st.lists(_ranges, max_size=5))),
    )


@given(magnets())
def test_round_trip(magnet: Magnet) -> None:
    uri = magnet.to_uri()
    assert uri.isascii()
    assert parse_magnet(uri) == magnet


def _parses_or_refuses(text: str) -> None:
    """Either a MagnetError, or a Magnet that survives its own round trip."""
    try:
        magnet = parse_magnet(text)
    except MagnetError as error:
        assert error.parameter and error.reason
        return
    assert parse_magnet(magnet.to_uri()) == magnet


@given(st.text(max_size=300))
def test_random_text_raises_only_magnet_error(text: str) -> None:
    _parses_or_refuses(text)


_pieces = st.sampled_from(
    [
        BTIH,
        BTMH,
        "xt=urn:btih:",
        "dn=",
        "tr=",
        "tr.3=",
        "ws=",
        "x.pe=",
        "so=",
        "xl=",
        "%",
        "%4",
        "%E9",
        "&",
        "=",
        "[",
        "]",
        ":",
        ",",
        "-",
        "+",
        "http://",
        "1",
        "9" * 12,
    ]
)


@given(st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=20).map("".join))
def test_link_shaped_text_raises_only_magnet_error(body: str) -> None:
    _parses_or_refuses("magnet:?" + body)
