"""The HTTP tracker's listener: one-shot requests answered as they are accepted, the rest adopted.

Each test makes its listening socket itself, so a request can be waiting in
the kernel before the listener exists: what the listener finds on accepting
is then certain, not a race with the client.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
import uvloop
from raw_http import announce

from bitswarm.aio import tracker_http_accept
from bitswarm.aio.tracker_answers import HttpAnswers
from bitswarm.aio.tracker_http_accept import HttpListener
from bitswarm.aio.tracker_http_lean import LeanHttpProtocol, LeanHttpServer
from bitswarm.aio.tracker_http_limits import ConnectionLimits
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.bencode import decode
from bitswarm.core.tracker.http_head import parse_head
from bitswarm.core.tracker.policy import TrackerPolicy

CLOSE = b"Connection: close\r\n"
LOOPBACK = bytes((127, 0, 0, 1))


@pytest.fixture
async def front() -> AsyncIterator[LeanHttpServer]:
    config = TrackerConfig(http=None, udp=None, policy=TrackerPolicy(interval=60))
    async with TrackerServer(config) as server:
        assert server.context is not None
        yield LeanHttpServer(HttpAnswers(server.context, None), asyncio.Protocol)


@pytest.fixture
def adopted(monkeypatch: pytest.MonkeyPatch) -> list[LeanHttpProtocol]:
    """Every protocol the listener adopts a connection with, in order."""
    made: list[LeanHttpProtocol] = []

    class Recorded(LeanHttpProtocol):
        def __init__(self, server: LeanHttpServer, host: str, **options: Any) -> None:
            super().__init__(server, host, **options)
            made.append(self)

    monkeypatch.setattr(tracker_http_accept, "LeanHttpProtocol", Recorded)
    return made


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.setblocking(False)
    yield sock
    sock.close()


def client(listening: socket.socket, first: bytes = b"", receive_buffer: int = 0) -> socket.socket:
    """A blocking client connection that has sent ``first`` (queued before any accept)."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect(listening.getsockname())
    sock.sendall(first)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    """Everything until the server closes."""
    with sock:
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response's status line and body, leaving the connection open."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0], body


def responses(data: bytes) -> list[tuple[bytes, bytes]]:
    """Every whole response in ``data``, in order: status line and body."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        found.append((head.split(b"\r\n")[0], rest[:length]))
        data = rest[length:]
    return found


async def test_a_one_shot_announce_is_answered_and_closed_as_it_is_accepted(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    waiting = client(listening, announce(1, extra=CLOSE))
    listener = HttpListener(front, [listening])
    [(status, body)] = responses(await asyncio.to_thread(read_to_end, waiting))
    listener.close()
    reply = decode(body)
    assert status == b"HTTP/1.1 200 OK" and isinstance(reply, dict)
    assert reply[b"incomplete"] == 1
    assert adopted == [] and front.limits.open == 0
    assert front.answers.context.metrics.get("http", "announces") == 1


async def test_a_kept_alive_connection_is_adopted_and_served_on(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    kept = client(listening, announce(1))
    listener = HttpListener(front, [listening])
    first = await asyncio.to_thread(read_response, kept)
    kept.sendall(announce(2, extra=CLOSE))
    [second] = responses(await asyncio.to_thread(read_to_end, kept))
    listener.close()
    assert [status for status, _ in (first, second)] == [b"HTTP/1.1 200 OK"] * 2
    assert [cast(dict[bytes, int], decode(body))[b"incomplete"] for _, body in (first, second)] == [
        1,
        2,
    ]
    assert len(adopted) == 1


async def test_a_request_that_comes_after_the_accept_is_answered_by_the_adopter(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    late = client(listening)
    listener = HttpListener(front, [listening])
    for _ in range(200):
        if adopted and front.connections:
            break
        await asyncio.sleep(0.01)
    assert len(adopted) == 1 and front.limits.open == 1
    late.sendall(announce(1, extra=CLOSE))
    [(status, _)] = responses(await asyncio.to_thread(read_to_end, late))
    listener.close()
    assert status == b"HTTP/1.1 200 OK"


async def test_a_malformed_head_is_refused_precisely_by_a_lingering_protocol(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    broken = client(listening, b"GET /announce?x HTTP/1.1\r\nBad Header: x\r\n\r\n")
    listener = HttpListener(front, [listening])
    [(status, body)] = responses(await asyncio.to_thread(read_to_end, broken))
    listener.close()
    assert status == b"HTTP/1.1 400 Bad Request"
    assert body.startswith(b"malformed header line 1")
    assert len(adopted) == 1


async def test_a_reply_larger_than_the_send_buffer_arrives_whole(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    for peer in range(1, 201):
        head, _ = parse_head(announce(peer)) or (None, 0)
        assert head is not None and front.body_for(head, "127.0.0.1", LOOPBACK) is not None
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # accepted sockets inherit it
    wide = announce(201, extra=CLOSE).replace(b"&left=1", b"&left=1&numwant=200&compact=0")
    waiting = client(listening, wide, receive_buffer=4096)
    listener = HttpListener(front, [listening])
    [(status, body)] = responses(await asyncio.to_thread(read_to_end, waiting))
    listener.close()
    reply = decode(body)
    assert status == b"HTTP/1.1 200 OK" and isinstance(reply, dict)
    assert len(reply[b"peers"]) == 200 and len(body) > 12000
    assert len(adopted) == 1  # the rest went out through a transport


async def test_a_connection_over_the_bounds_is_refused_as_it_is_accepted(
    front: LeanHttpServer, adopted: list[LeanHttpProtocol], listening: socket.socket
) -> None:
    front.limits = ConnectionLimits(total=1)
    held = client(listening, announce(1))  # kept alive: it holds the one place
    listener = HttpListener(front, [listening])
    await asyncio.to_thread(read_response, held)
    over = client(listening, announce(2, extra=CLOSE))
    [(status, body)] = responses(await asyncio.to_thread(read_to_end, over))
    listener.close()
    held.close()
    assert (status, body) == (b"HTTP/1.1 503 Service Unavailable", b"too many connections\n")


class _OutOfFiles:
    """A listening socket whose first accept fails as a process out of descriptors does."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.failed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    @property
    def family(self) -> socket.AddressFamily:
        return self.sock.family

    def _accept(self) -> tuple[int, object]:
        """What the listener calls: the C accept of :class:`socket.socket`."""
        if not self.failed:
            self.failed = True
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock._accept()  # type: ignore[attr-defined,no-any-return]


async def test_running_out_of_descriptors_pauses_accepting_then_resumes(
    front: LeanHttpServer, listening: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracker_http_accept, "ACCEPT_RETRY_SECONDS", 0.2)
    waiting = client(listening, announce(1, extra=CLOSE))
    flaky = _OutOfFiles(listening)
    listener = HttpListener(front, [cast(socket.socket, flaky)])
    loop = asyncio.get_running_loop()
    started = loop.time()
    data = await asyncio.to_thread(read_to_end, waiting)
    listener.close()
    assert flaky.failed and loop.time() - started >= 0.2
    assert [status for status, _ in responses(data)] == [b"HTTP/1.1 200 OK"]


async def test_closing_stops_accepting(front: LeanHttpServer) -> None:
    listener = await HttpListener.bind(front, "127.0.0.1", 0)
    address = listener.address
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


async def test_closing_drops_a_connection_not_yet_adopted(
    front: LeanHttpServer, listening: socket.socket
) -> None:
    waiting = client(listening, announce(1))  # kept alive: it is to be adopted
    listener = HttpListener(front, [listening])
    listener._accept(listening)  # accept it now, so that closing comes before its adoption
    listener.close()
    assert await asyncio.to_thread(read_to_end, waiting) == b""
    assert front.limits.open == 0


# -- on both event loops: uvloop starts reading an adopted connection at once -------------

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@asynccontextmanager
async def started_front(limits: ConnectionLimits | None = None) -> AsyncIterator[LeanHttpServer]:
    config = TrackerConfig(http=None, udp=None, policy=TrackerPolicy(interval=60))
    async with TrackerServer(config) as server:
        assert server.context is not None
        yield LeanHttpServer(HttpAnswers(server.context, None), asyncio.Protocol, limits=limits)


def on_loop(name: str, test: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[name]) as runner:
        runner.run(test())  # type: ignore[arg-type]


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_bytes_past_the_first_read_are_answered_after_it_in_order(
    loop: str, listening: socket.socket
) -> None:
    requests = b"".join(announce(peer) for peer in range(1, 61)) + announce(61, extra=CLOSE)
    assert len(requests) > tracker_http_accept.FIRST_READ

    async def test() -> None:
        async with started_front() as front:
            pipelined = client(listening, requests)
            listener = HttpListener(front, [listening])
            data = await asyncio.to_thread(read_to_end, pipelined)
            listener.close()
        answers = responses(data)
        assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 61
        counts = [cast(dict[bytes, int], decode(body))[b"incomplete"] for _, body in answers]
        assert counts == list(range(1, 62))

    on_loop(loop, test)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_a_client_that_stops_sending_still_gets_its_answer(
    loop: str, listening: socket.socket
) -> None:
    async def test() -> None:
        async with started_front() as front:
            half_closed = client(listening, announce(1))  # kept alive, but it sends no more
            half_closed.shutdown(socket.SHUT_WR)
            listener = HttpListener(front, [listening])
            data = await asyncio.to_thread(read_to_end, half_closed)
            listener.close()
        assert [status for status, _ in responses(data)] == [b"HTTP/1.1 200 OK"]

    on_loop(loop, test)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_at_the_bound_each_client_gets_one_whole_answer(
    loop: str, listening: socket.socket
) -> None:
    async def test() -> None:
        async with started_front(ConnectionLimits(total=1)) as front:
            for peer in range(1, 201):
                head, _ = parse_head(announce(peer)) or (None, 0)
                assert head is not None and front.body_for(head, "127.0.0.1", LOOPBACK)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            wide = announce(201, extra=CLOSE).replace(b"&left=1", b"&left=1&numwant=200&compact=0")
            kept = client(listening, announce(202))  # kept alive: it holds the one place
            big = client(listening, wide, receive_buffer=4096)
            listener = HttpListener(front, [listening])
            first = await asyncio.to_thread(read_response, kept)
            refused = await asyncio.to_thread(read_to_end, big)
            listener.close()
            kept.close()
        assert first[0] == b"HTTP/1.1 200 OK"
        assert responses(refused) == [
            (b"HTTP/1.1 503 Service Unavailable", b"too many connections\n")
        ]

    on_loop(loop, test)
