"""HTTP announce/scrape query parsing, replies, policy and access control."""

from __future__ import annotations

from urllib.parse import quote_from_bytes, unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.bencode import decode
from bitswarm.core.tracker import http_reply
from bitswarm.core.tracker.access import AccessList
from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.errors import QueryError
from bitswarm.core.tracker.http_query import (
    MAX_QUERY_BYTES,
    parse_announce,
    parse_scrape,
    split_query,
    unescape_value,
)
from bitswarm.core.tracker.model import MAX_NUMWANT, AnnounceResult, Event, SwarmCounts
from bitswarm.core.tracker.policy import TrackerPolicy

HASH = bytes(range(0, 40, 2))  # includes bytes that must be escaped
PEER_ID = b"-LT2100-\x00\xff&=%+?#abcd"


def query(**params: bytes | str | int) -> bytes:
    base: dict[str, bytes | str | int] = {
        "info_hash": HASH, "peer_id": PEER_ID, "port": 6881,
        "uploaded": 0, "downloaded": 0, "left": 100,
    }  # fmt: skip
    base.update(params)
    parts = []
    for name, value in base.items():
        raw = value if isinstance(value, bytes) else str(value).encode()
        parts.append(f"{name}={quote_from_bytes(raw, safe='')}")
    return "&".join(parts).encode()


def test_binary_fields_survive_percent_decoding() -> None:
    parsed = parse_announce(query())
    assert parsed.info_hash == HASH
    assert parsed.peer_id == PEER_ID
    assert (parsed.port, parsed.left, parsed.event) == (6881, 100, Event.NONE)
    assert parsed.compact and not parsed.no_peer_id
    assert parsed.numwant == 50


def test_unescaped_bytes_are_taken_as_they_are() -> None:
    raw = query().replace(
        b"info_hash=" + quote_from_bytes(HASH, safe="").encode(), b"info_hash=" + b"a" * 20
    )
    assert parse_announce(raw).info_hash == b"a" * 20


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"info_hash": b"x" * 19}, "info_hash", "19 bytes, not 20"),
        ({"info_hash": b"x" * 21}, "info_hash", "21 bytes, not 20"),
        ({"peer_id": b"short"}, "peer_id", "5 bytes, not 20"),
        ({"port": 0}, "port", "not a port"),
        ({"port": 65536}, "port", "not a port"),
        ({"port": "-1"}, "port", "non-negative decimal"),
        ({"port": "0x50"}, "port", "non-negative decimal"),
        ({"left": "1" * 21}, "left", "non-negative decimal"),
        ({"uploaded": str(1 << 63)}, "uploaded", "larger than"),
        ({"event": "finished"}, "event", "unknown event"),
        ({"compact": 2}, "compact", "not 0 or 1"),
        ({"numwant": "lots"}, "numwant", "non-negative decimal"),
    ],
)
def test_bad_values_name_their_parameter(
    params: dict[str, bytes | str | int], parameter: str, words: str
) -> None:
    with pytest.raises(QueryError, match=words) as caught:
        parse_announce(query(**params))
    assert caught.value.parameter == parameter


def test_missing_and_repeated_parameters() -> None:
    with pytest.raises(QueryError, match="missing") as caught:
        parse_announce(b"peer_id=" + b"a" * 20 + b"&port=1&uploaded=0&downloaded=0&left=0")
    assert caught.value.parameter == "info_hash"
    with pytest.raises(QueryError, match="more than once") as caught:
        parse_announce(query() + b"&port=7000")
    assert caught.value.parameter == "port"


def test_malformed_escape_and_oversized_query() -> None:
    with pytest.raises(QueryError, match="percent escape"):
        parse_announce(query() + b"&key=%zz")
    with pytest.raises(QueryError, match="longer than"):
        parse_announce(query() + b"&x=" + b"a" * MAX_QUERY_BYTES)


def test_numwant_is_capped_and_events_map() -> None:
    assert parse_announce(query(numwant=10**9)).numwant == MAX_NUMWANT
    assert parse_announce(query(num_want=7)).numwant == 7
    assert parse_announce(query(event="started")).event is Event.STARTED
    assert parse_announce(query(event="paused")).event is Event.NONE
    assert parse_announce(query(compact=0, no_peer_id=1)).no_peer_id


def test_scrape_takes_repeated_hashes() -> None:
    raw = b"info_hash=" + b"a" * 20 + b"&info_hash=" + quote_from_bytes(HASH).encode()
    assert parse_scrape(raw) == (b"a" * 20, HASH)
    with pytest.raises(QueryError, match="full scrape"):
        parse_scrape(b"")
    with pytest.raises(QueryError, match="3 bytes"):
        parse_scrape(b"info_hash=abc")
    with pytest.raises(QueryError, match="more than 100"):
        parse_scrape(b"&".join([b"info_hash=" + b"a" * 20] * 101))


@given(st.binary(max_size=600))
def test_fuzz_raw_bytes_raise_only_query_errors(raw: bytes) -> None:
    for parse in (parse_announce, parse_scrape):
        try:
            parse(raw)
        except QueryError as error:
            assert error.parameter


_names = st.sampled_from(
    ["info_hash", "peer_id", "port", "uploaded", "downloaded", "left", "event", "compact",
     "numwant", "no_peer_id", "ip", "key", "%", "%4"]
)  # fmt: skip


@given(st.lists(st.tuples(_names, st.binary(max_size=30)), max_size=12))
def test_fuzz_plausible_queries_raise_only_query_errors(pairs: list[tuple[str, bytes]]) -> None:
    raw = b"&".join(name.encode() + b"=" + quote_from_bytes(v).encode() for name, v in pairs)
    try:
        parsed = parse_announce(raw)
    except QueryError as error:
        assert error.parameter
    else:
        assert len(parsed.info_hash) == 20 and 1 <= parsed.port <= 65535


V4 = pack_address("127.0.0.2", 6882)
V6 = pack_address("::1", 6883)
RESULT = AnnounceResult((V4, V6), SwarmCounts(3, 4, 5), (b"a" * 20, b"b" * 20))


def test_compact_reply_splits_families() -> None:
    reply = decode(http_reply.announce(RESULT, parse_announce(query()), TrackerPolicy(interval=60)))
    assert reply == {
        b"interval": 60, b"min interval": 30, b"complete": 3, b"incomplete": 4,
        b"downloaded": 5, b"peers": V4, b"peers6": V6,
    }  # fmt: skip


def test_dictionary_reply_with_and_without_peer_ids() -> None:
    policy = TrackerPolicy(tracker_id=b"bs1")
    full = decode(http_reply.announce(RESULT, parse_announce(query(compact=0)), policy))
    assert isinstance(full, dict)
    assert full[b"peers"] == [
        {b"ip": b"127.0.0.2", b"peer id": b"a" * 20, b"port": 6882},
        {b"ip": b"::1", b"peer id": b"b" * 20, b"port": 6883},
    ]
    assert full[b"tracker id"] == b"bs1"
    bare = decode(
        http_reply.announce(
            RESULT, parse_announce(query(compact=0, no_peer_id=1)), policy, warning="slow down"
        )
    )
    assert isinstance(bare, dict)
    assert bare[b"peers"][0] == {b"ip": b"127.0.0.2", b"port": 6882}  # type: ignore[index]
    assert bare[b"warning message"] == b"slow down"


def test_scrape_and_failure_replies() -> None:
    assert decode(http_reply.scrape([HASH], [SwarmCounts(1, 2, 3)])) == {
        b"files": {HASH: {b"complete": 1, b"downloaded": 3, b"incomplete": 2}}
    }
    assert decode(http_reply.failure("nope")) == {b"failure reason": b"nope"}


def test_claimed_ip_is_ignored_unless_allowed() -> None:
    parsed = parse_announce(query(ip="10.9.8.7"))
    assert TrackerPolicy().http_announcement(parsed, "127.0.0.1").address == pack_address(
        "127.0.0.1", 6881
    )
    trusting = TrackerPolicy(allow_claimed_ip=True)
    assert trusting.http_announcement(parsed, "127.0.0.1").address == pack_address("10.9.8.7", 6881)
    with pytest.raises(QueryError, match="not an IP address"):
        trusting.http_announcement(parse_announce(query(ip="example.org")), "127.0.0.1")
    assert "ignored" in (TrackerPolicy().warning(parsed) or "")
    assert trusting.warning(parsed) is None
    assert TrackerPolicy().warning(parse_announce(query())) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="interval"):
        TrackerPolicy(interval=0)
    with pytest.raises(ValueError, match="min_interval"):
        TrackerPolicy(interval=10, min_interval=11)
    assert TrackerPolicy(interval=100).peer_ttl == 200


def test_access_list_in_open_and_private_mode() -> None:
    assert AccessList().refusal(None, HASH) is None
    gate = AccessList(private=True)
    assert "private" in (gate.refusal(None, HASH) or "")
    gate.add_passkey("secret-key-1")
    assert gate.refusal("wrong-key-1", HASH) == "unknown passkey"
    assert gate.refusal("secret-key-1", HASH) == "torrent not registered with this tracker"
    gate.allow(HASH)
    assert gate.refusal("secret-key-1", HASH) is None
    assert gate.snapshot()["info_hashes"] == [HASH.hex()]
    assert gate.disallow(HASH) and not gate.disallow(HASH)
    assert gate.remove_passkey("secret-key-1")
    with pytest.raises(ValueError, match="passkey"):
        gate.add_passkey("short")
    with pytest.raises(ValueError, match="20 bytes"):
        gate.allow(b"abc")


def test_escaped_names_and_values_decode_like_plain_ones() -> None:
    plain = split_query(b"port=6881&event=started")
    assert split_query(b"p%6Frt=6881&event=st%61rted") == plain
    with pytest.raises(QueryError, match="offset 2") as raised:
        split_query(b"port=68%8")
    assert raised.value.parameter == "port"


def test_bad_escape_in_a_nameless_parameter_still_names_the_place() -> None:
    with pytest.raises(QueryError, match="malformed percent escape") as caught:
        parse_announce(b"=%")
    assert caught.value.parameter == "(a parameter with no name)"


_escape = st.integers(0, 255).map(lambda byte: b"%%%02X" % byte) | st.integers(0, 255).map(
    lambda byte: b"%%%02x" % byte
)
_raw = st.binary(min_size=1, max_size=1).filter(lambda byte: byte != b"%")


@given(st.lists(_escape | _raw, max_size=40))
def test_values_decode_as_the_standard_library_decodes_them(parts: list[bytes]) -> None:
    value = b"".join(parts)
    assert unescape_value(value) == unquote_to_bytes(value)
