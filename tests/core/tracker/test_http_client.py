"""The HTTP tracker client's URLs and reply parsing (BEP 3, 7, 23, 48)."""

from __future__ import annotations

import contextlib
from urllib.parse import unquote_to_bytes, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.bencode import encode
from bitswarm.core.tracker.client_model import (
    AnnounceParams,
    AnnounceReply,
    ReplyError,
    TrackerFailure,
)
from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.http_client import (
    ScrapeUnsupported,
    announce_url,
    parse_announce_reply,
    parse_scrape_reply,
    scrape_url,
)
from bitswarm.core.tracker.model import Event, SwarmCounts

INFO_HASH = bytes(range(0, 40, 2))  # includes bytes that must be escaped
PEER_ID = b"-BS0100-\x00\xff %&=?/#+ab"


def raw_query(url: str) -> dict[str, list[bytes]]:
    """The query of ``url`` with every value percent-decoded to raw bytes."""
    pairs: dict[str, list[bytes]] = {}
    for item in urlsplit(url).query.split("&"):
        name, _, value = item.partition("=")
        pairs.setdefault(name, []).append(unquote_to_bytes(value))
    return pairs


def params(**overrides: object) -> AnnounceParams:
    fields: dict[str, object] = {
        "info_hash": INFO_HASH,
        "peer_id": PEER_ID,
        "port": 6881,
        "uploaded": 1,
        "downloaded": 2,
        "left": 3,
    }
    fields.update(overrides)
    return AnnounceParams(**fields)  # type: ignore[arg-type]


def test_announce_url_escapes_binary_and_asks_for_compact() -> None:
    url = announce_url("http://127.0.0.1:6969/announce", params(event=Event.STARTED))
    assert url.startswith("http://127.0.0.1:6969/announce?info_hash=%00%02%04")
    query = raw_query(url)
    assert query["info_hash"] == [INFO_HASH]
    assert query["peer_id"] == [PEER_ID]
    assert query["port"] == [b"6881"]
    assert (query["uploaded"], query["downloaded"], query["left"]) == ([b"1"], [b"2"], [b"3"])
    assert query["compact"] == [b"1"]
    assert query["event"] == [b"started"]
    assert "numwant" not in query and "key" not in query and "trackerid" not in query
    # The raw URL must not contain a byte that would split the query.
    assert url.count("&") == len(query) - 1 and "#" not in url


def test_announce_url_keeps_the_passkey_and_adds_optional_keys() -> None:
    url = announce_url(
        "http://127.0.0.1/tr/announce.php?passkey=s3cr3t#frag",
        params(numwant=80, key=0xDEADBEEF, ip="127.0.0.2"),
        tracker_id=b"id&1",
    )
    parts = urlsplit(url)
    assert parts.path == "/tr/announce.php" and parts.fragment == ""
    assert parts.query.startswith("passkey=s3cr3t&info_hash=")
    query = raw_query(url)
    assert query["numwant"] == [b"80"]
    assert query["key"] == [b"deadbeef"]
    assert query["trackerid"] == [b"id&1"]
    assert query["ip"] == [b"127.0.0.2"]


def test_periodic_announce_sends_no_event() -> None:
    assert "event" not in raw_query(announce_url("http://127.0.0.1/announce", params()))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("info_hash", b"short", "info_hash is 5 bytes"),
        ("peer_id", b"x" * 21, "peer_id is 21 bytes"),
        ("port", 70000, "port 70000"),
        ("left", -1, "left -1"),
        ("numwant", -5, "numwant -5"),
        ("key", 1 << 32, "key 4294967296"),
    ],
)
def test_bad_params_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        params(**{field: value})


@pytest.mark.parametrize(
    ("announce", "scrape"),
    [
        ("http://127.0.0.1/announce", "http://127.0.0.1/scrape"),
        ("http://127.0.0.1/x/announce.php?pk=1", "http://127.0.0.1/x/scrape.php?pk=1"),
        ("http://127.0.0.1/announce?a=b", "http://127.0.0.1/scrape?a=b"),
    ],
)
def test_scrape_url_follows_bep48(announce: str, scrape: str) -> None:
    other = b"\xff" * 20
    url = scrape_url(announce, [INFO_HASH, other])
    assert url.split("info_hash=")[0].rstrip("?&") == scrape
    assert raw_query(url)["info_hash"] == [INFO_HASH, other]


@pytest.mark.parametrize("announce", ["http://127.0.0.1/a", "http://127.0.0.1/announce/x"])
def test_scrape_url_refuses_paths_without_announce(announce: str) -> None:
    with pytest.raises(ScrapeUnsupported, match="no scrape"):
        scrape_url(announce, [INFO_HASH])


def test_compact_reply_with_ipv6_and_every_optional_key() -> None:
    body = encode(
        {
            "interval": 1800,
            "min interval": 60,
            "complete": 3,
            "incomplete": 4,
            "tracker id": b"T1",
            "warning message": "slow down",
            "peers": pack_address("127.0.0.1", 6881) + pack_address("10.1.2.3", 80),
            "peers6": pack_address("::1", 51413),
        }
    )
    assert parse_announce_reply(body) == AnnounceReply(
        interval=1800,
        peers=(("127.0.0.1", 6881), ("10.1.2.3", 80), ("::1", 51413)),
        min_interval=60,
        complete=3,
        incomplete=4,
        tracker_id=b"T1",
        warning="slow down",
    )


def test_dictionary_peers_and_port_zero_dropped() -> None:
    body = encode(
        {
            "interval": 10,
            "peers": [
                {"ip": "127.0.0.5", "port": 7000, "peer id": b"p" * 20},
                {"ip": "localhost", "port": 7001},
                {"ip": "127.0.0.6", "port": 0},
            ],
        }
    )
    reply = parse_announce_reply(body)
    assert reply.peers == (("127.0.0.5", 7000), ("localhost", 7001))
    assert reply.min_interval is None and reply.tracker_id is None


def test_failure_reason_wins() -> None:
    with pytest.raises(TrackerFailure, match="unregistered torrent") as caught:
        parse_announce_reply(encode({"failure reason": "unregistered torrent", "interval": 5}))
    assert caught.value.reason == "unregistered torrent"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"not bencode", r"announce reply is not bencode: .* \(at byte 0\)"),
        (encode([1]), r"not a dictionary \(top level\)"),
        (encode({"peers": b""}), r"is missing \(key 'interval'\)"),
        (encode({"interval": -1, "peers": b""}), r"-1 is not a non-negative .*'interval'"),
        (encode({"interval": 1}), r"is missing \(key 'peers'\)"),
        (encode({"interval": 1, "peers": b"12345"}), r"5 bytes .* multiple of 6 \(key 'peers'\)"),
        (encode({"interval": 1, "peers6": b"1" * 6}), r"multiple of 18 \(key 'peers6'\)"),
        (encode({"interval": 1, "peers": 5}), r"neither .* \(key 'peers'\)"),
        (encode({"interval": 1, "peers": [{"ip": "a", "port": 1 << 16}]}), r"entry 0"),
        (encode({"interval": 1, "peers": [{"port": 1}]}), r"no 'ip' string \(key 'peers' entry 0"),
        (encode({"interval": 1, "peers": [b"x"]}), r"not a dictionary \(key 'peers' entry 0"),
        (encode({"interval": 1, "peers": b"", "tracker id": 1}), r"key 'tracker id'"),
        (encode({"interval": 1, "peers": b"", "warning message": 1}), r"'warning message'"),
        (encode({"failure reason": 7}), r"not a string \(key 'failure reason'\)"),
    ],
)
def test_malformed_announce_replies_say_what_and_where(reply: bytes, message: str) -> None:
    with pytest.raises(ReplyError, match=message):
        parse_announce_reply(reply)


def test_unsorted_keys_are_tolerated() -> None:
    body = b"d8:intervali5e5:peers0:8:completei1ee"
    assert parse_announce_reply(body).complete == 1


def test_scrape_reply() -> None:
    body = encode(
        {
            "files": {
                INFO_HASH: {"complete": 11, "downloaded": 13772, "incomplete": 19},
                b"\x01" * 20: {"complete": 2},
            }
        }
    )
    assert parse_scrape_reply(body) == {
        INFO_HASH: SwarmCounts(complete=11, incomplete=19, downloaded=13772),
        b"\x01" * 20: SwarmCounts(complete=2),
    }


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (encode({"nofiles": 1}), r"key 'files'"),
        (encode({"files": {b"short": {}}}), r"5 bytes, not 20"),
        (encode({"files": {b"a" * 20: 1}}), r"not a dictionary"),
        (encode({"files": {b"a" * 20: {"complete": -2}}}), r"-2 .* 'complete'"),
    ],
)
def test_malformed_scrape_replies(reply: bytes, message: str) -> None:
    with pytest.raises(ReplyError, match=message):
        parse_scrape_reply(reply)


def test_scrape_failure() -> None:
    with pytest.raises(TrackerFailure, match="no scrape here"):
        parse_scrape_reply(encode({"failure reason": "no scrape here"}))


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(body: bytes) -> None:
    for parse in (parse_announce_reply, parse_scrape_reply):
        with contextlib.suppress(ReplyError, TrackerFailure):
            parse(body)


values = st.recursive(
    st.integers(-5, 70000) | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [b"interval", b"peers", b"peers6", b"ip", b"port", b"files", b"complete"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from([b"interval", b"peers", b"peers6", b"files"]), values))
def test_structured_garbage_raises_only_reply_errors(top: dict[bytes, object]) -> None:
    body = encode(top)  # type: ignore[arg-type]
    for parse in (parse_announce_reply, parse_scrape_reply):
        with contextlib.suppress(ReplyError):
            parse(body)


@given(st.lists(st.tuples(st.ip_addresses(v=4).map(str), st.integers(1, 65535)), max_size=20))
def test_compact_peers_round_trip(peers: list[tuple[str, int]]) -> None:
    blob = b"".join(pack_address(host, port) for host, port in peers)
    reply = parse_announce_reply(encode({"interval": 1, "peers": blob}))
    assert list(reply.peers) == peers
