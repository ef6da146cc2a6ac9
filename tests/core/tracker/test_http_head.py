"""HTTP/1.1 request heads for the lean announce server: what is read, what is refused, and where."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.tracker.http_head import MAX_HEAD_BYTES, MAX_HEADERS, HeadError, parse_head

ANNOUNCE = (
    b"GET /announce?info_hash=%01&port=1 HTTP/1.1\r\nHost: t\r\nX-Real-IP:  10.0.0.1 \r\n\r\n"
)


def test_a_head_is_read_with_its_end() -> None:
    parsed = parse_head(ANNOUNCE + b"GET /scrape")
    assert parsed is not None
    head, end = parsed
    assert end == len(ANNOUNCE)
    assert (head.method, head.path, head.query) == (b"GET", b"/announce", b"info_hash=%01&port=1")
    assert head.header(b"x-real-ip") == b"10.0.0.1"
    assert head.header(b"host") == b"t" and head.header(b"missing") is None
    assert head.keep_alive and not head.has_body
    assert parse_head(ANNOUNCE + b"GET /scrape", end) is None  # the next one is incomplete


def test_heads_are_found_at_any_offset_and_incomplete_ones_wait() -> None:
    two = ANNOUNCE + ANNOUNCE
    first = parse_head(two)
    assert first is not None
    second = parse_head(two, first[1])
    assert second is not None and second[1] == len(two)
    for cut in range(len(ANNOUNCE)):
        assert parse_head(ANNOUNCE[:cut]) is None


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", None, True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive, Close", False),
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", True),
    ],
)
def test_persistence_follows_version_and_connection_header(
    version: bytes, connection: bytes | None, keep_alive: bool
) -> None:
    header = b"Connection: " + connection + b"\r\n" if connection else b""
    parsed = parse_head(b"GET /announce HTTP/" + version + b"\r\n" + header + b"\r\n")
    assert parsed is not None and parsed[0].keep_alive is keep_alive


@pytest.mark.parametrize(
    ("header", "has_body"),
    [
        (b"Content-Length: 0", False),
        (b"Content-Length: 5", True),
        (b"Transfer-Encoding: chunked", True),
    ],
)
def test_bodies_are_recognised(header: bytes, has_body: bool) -> None:
    parsed = parse_head(b"POST /announce HTTP/1.1\r\n" + header + b"\r\n\r\n")
    assert parsed is not None and parsed[0].has_body is has_body


@pytest.mark.parametrize(
    ("head", "status", "text"),
    [
        (b"GARBAGE\r\n\r\n", 400, "malformed request line"),
        (b"GET /a b HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", 400, "malformed request line"),
        (b"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 is not supported"),
        (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400, "header line 1"),
        (b"GET / HTTP/1.1\r\nA: 1\r\nBad : 2\r\n\r\n", 400, "header line 2"),
        (b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400, "header line 2"),
        (b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n", 431, "header lines"),
    ],
)
def test_malformed_heads_are_refused_precisely(head: bytes, status: int, text: str) -> None:
    with pytest.raises(HeadError, match=text) as refused:
        parse_head(head)
    assert refused.value.status == status


def test_an_endless_head_is_refused_once_it_passes_the_limit() -> None:
    start = b"GET /announce?" + b"a" * (MAX_HEAD_BYTES - 20)
    assert parse_head(start) is None
    with pytest.raises(HeadError) as refused:
        parse_head(start + b"a" * 100)
    assert refused.value.status == 431


@given(st.binary(max_size=300))
def test_fuzz_any_bytes_give_a_head_none_or_a_head_error(data: bytes) -> None:
    try:
        parsed = parse_head(data)
    except HeadError as error:
        assert error.status in (400, 431, 505) and error.reason
    else:
        if parsed is not None:
            head, end = parsed
            assert data[end - 4 : end] == b"\r\n\r\n" and head.method and head.target
