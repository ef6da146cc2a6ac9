"""The HTTP tracker's hot path answers byte for byte what the general path answers (BEP 3, 23).

Two registries with the same random seed see the same queries: one is asked
through :func:`announce_inline` first, falling back to the general path
(parse, announcement, result, encoder) when it declines; the other always
through the general path. The reply bodies must be identical, for plain,
unusual and malformed queries alike.
"""

from __future__ import annotations

import random
from urllib.parse import quote_from_bytes

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.tracker import http_reply
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.http_hot_path import announce_inline
from bitswarm.core.tracker.http_query import parse_announce
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.registry import Registry

NOW = 5000.0
SOURCES = (("127.0.0.1", bytes((127, 0, 0, 1))), ("::1", bytes(15) + b"\x01"))
HASHES = (b"\x01" * 20, b"\xfe%&=" * 5)


def general_path(query: bytes, host: str, policy: TrackerPolicy, registry: Registry) -> bytes:
    try:
        parsed = parse_announce(query)
        result = registry.announce(policy.http_announcement(parsed, host), NOW)
    except TrackerMessageError as error:
        return http_reply.failure(str(error))
    return http_reply.announce(result, parsed, policy, warning=policy.warning(parsed))


def escaped(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


@st.composite
def queries(draw: st.DrawFn) -> bytes:
    """An announce query, usually plain, sometimes odd, repeated or broken."""
    fields = [
        ("info_hash", escaped(draw(st.sampled_from(HASHES)))),
        ("peer_id", "-BS0100-" + escaped(bytes([draw(st.integers(0, 30))]) * 12)),
        ("port", str(draw(st.sampled_from((6881, 6882, 1, 65535, 0, 70000))))),
        ("uploaded", str(draw(st.sampled_from((0, 10, 2**63, 2**64))))),
        ("downloaded", "0"),
        ("left", str(draw(st.sampled_from((0, 0, 1, 1 << 40))))),
    ]
    extras = st.sampled_from(
        [
            ("event", "started"), ("event", "completed"), ("event", "stopped"),
            ("event", "paused"), ("event", "bogus"), ("event", ""), ("compact", "1"),
            ("compact", "0"), ("compact", "2"), ("no_peer_id", "1"), ("numwant", "5"),
            ("numwant", "500"), ("numwant", ""), ("num_want", "3"), ("numwant", "x"),
            ("ip", "10.0.0.1"), ("key", "abcd"), ("key", "%zz"), ("key", "%41"),
            ("port", "6881"), ("supportcrypto", "1"), ("%70ort", "1"), ("", "")
        ]
    )  # fmt: skip
    fields += draw(st.lists(extras, max_size=4))
    if draw(st.booleans()):
        fields.pop(draw(st.integers(0, len(fields) - 1)))
    fields = draw(st.permutations(fields))
    query = "&".join(f"{name}={value}" if value or name else "" for name, value in fields)
    raw = query.encode()
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        raw = raw[:at] + draw(st.sampled_from((b"%", b"&", b"=", b"9", b"%4"))) + raw[at + 1 :]
    return raw


@settings(max_examples=200, deadline=None)
@given(
    traffic=st.lists(st.tuples(queries(), st.integers(0, 1)), min_size=1, max_size=40),
    tracker_id=st.sampled_from((b"", b"tid")),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_hot_path_answers_as_the_general_path(
    traffic: list[tuple[bytes, int]], tracker_id: bytes, seed: int
) -> None:
    policy = TrackerPolicy(interval=900, tracker_id=tracker_id)
    hot, slow = Registry(1800, random.Random(seed)), Registry(1800, random.Random(seed))
    for query, source in traffic:
        host, ip = SOURCES[source]
        reply = announce_inline(query, ip, policy, hot.announce_values, NOW)
        if reply is None:
            reply = general_path(query, host, policy, hot)
        assert reply == general_path(query, host, policy, slow)
    assert hot.stats() == slow.stats()
    assert hot.scrape(HASHES) == slow.scrape(HASHES)


def test_a_plain_announce_takes_the_hot_path_and_the_rest_do_not() -> None:
    policy, registry = TrackerPolicy(), Registry(1800, random.Random(1))
    plain = (
        f"info_hash={escaped(HASHES[0])}&peer_id=-BS0100-abcdefghijkl&port=6881"
        "&uploaded=0&downloaded=0&left=5&event=started&key=1a2b&compact=1&numwant=30"
    ).encode()
    ip = SOURCES[0][1]
    assert announce_inline(plain, ip, policy, registry.announce_values, NOW) is not None
    for odd in (b"&compact=0", b"&ip=10.0.0.1", b"&port=6882", b"&key=%41", b"&no_peer_id=1"):
        assert announce_inline(plain + odd, ip, policy, registry.announce_values, NOW) is None
    trusting = TrackerPolicy(allow_claimed_ip=True)
    assert announce_inline(plain, ip, trusting, registry.announce_values, NOW) is None
    assert announce_inline(plain[:-20], ip, policy, registry.announce_values, NOW) is not None
    assert announce_inline(plain[20:], ip, policy, registry.announce_values, NOW) is None
