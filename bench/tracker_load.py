"""Load generators and trivial responders for ``bench/tracker.py`` (BEP 3, 15).

The generators run in a process of their own and spend as little Python as
possible per request, so that the tracker under test, not the generator, is
the bottleneck:

* UDP: one socket per source address (127.0.0.x, so a tracker sees many
  clients), one BEP 15 connect each, then announce packets built in advance
  with the transaction id as their index; a closed loop keeps ``window``
  requests in flight per socket and times each by its transaction id.
* HTTP, kept alive: ``connections`` connections, each with one request in
  flight. A connection that the server closes anyway is reconnected and its
  request sent again, its clock still running.
* HTTP, a new connection for every announce, as most real clients make (the
  request says ``Connection: close``): ``bench/http_close_load.c``, since
  the connections cost the client as much as the server and a Python
  generator would be slower than a C tracker; its clock runs from the
  connect.

Measured against responders that answer instantly (``bench/udp_echo.c`` and
``bench/http_echo.c``), a generator shows its own ceiling.
"""

from __future__ import annotations

import selectors
import socket
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bitswarm.core.tracker.client_model import AnnounceParams
from bitswarm.core.tracker.http_client import announce_url
from bitswarm.core.tracker.model import Event
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    ConnectRequest,
    ConnectResponse,
    decode_response,
)

Target = tuple[str, int]

PACKETS_PER_SOCKET = 8192
"""Distinct prebuilt announces per source address (and peers per source address)."""

NUMWANT = 50

STALL = 0.5
"""Seconds without any UDP answer after which the requests in flight count as lost."""


@dataclass
class LoadResult:
    """Answers counted in the measured span, their latencies in seconds, and losses."""

    answers: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def info_hash(torrent: int) -> bytes:
    """The info-hash of synthetic torrent number ``torrent``."""
    return struct.pack(">I", torrent) * 5


def _params(index: int, source: int, torrents: int) -> AnnounceParams:
    return AnnounceParams(
        info_hash=info_hash((index * 7919 + source * 104729) % torrents),
        peer_id=struct.pack(">8sII4x", b"-BS0100-", source, index),
        port=1024 + index,
        left=0 if index % 4 == 0 else 1 << 20,
        event=Event.STARTED,
        numwant=NUMWANT,
        key=index,
    )


def _udp_packets(connection_id: int, source: int, torrents: int) -> list[bytes]:
    packets = []
    for index in range(PACKETS_PER_SOCKET):
        p = _params(index, source, torrents)
        request = AnnounceRequest(
            connection_id, index, p.info_hash, p.peer_id, p.downloaded, p.left, p.uploaded,
            p.event, 0, index, NUMWANT, p.port,
        )  # fmt: skip
        packets.append(request.encode())
    return packets


def _udp_connect(sock: socket.socket) -> int:
    for attempt in range(20):
        sock.send(ConnectRequest(attempt).encode())
        try:
            reply = decode_response(sock.recv(2048))
        except TimeoutError:
            continue
        if isinstance(reply, ConnectResponse):
            return reply.connection_id
        time.sleep(0.5)  # refused (rate limit, not ready): try again
    raise RuntimeError(f"no UDP connect answer from {sock.getpeername()}")


def run_udp_load(
    target: Target, sources: int, window: int, torrents: int, warmup: float, duration: float
) -> LoadResult:
    """Announce over UDP from ``sources`` addresses for ``warmup + duration`` seconds."""
    selector = selectors.DefaultSelector()
    states = []
    for source in range(sources):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.0.{10 + source}", 0))
        sock.connect(target)
        sock.settimeout(1.0)
        packets = _udp_packets(_udp_connect(sock), source, torrents)
        sock.setblocking(False)
        state = _UdpState(sock, packets)
        selector.register(sock, selectors.EVENT_READ, state)
        states.append(state)
    result = LoadResult()
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + duration
    for state in states:
        state.top_up(window, start)
    now = start
    while now < end:
        events = selector.select(timeout=STALL)
        now = time.perf_counter()
        if not events:  # every window stalled: count the losses and send anew
            for state in states:
                result.lost += state.in_flight
                state.in_flight = 0
                state.top_up(window, now)
            continue
        for key, _ in events:
            state = key.data
            state.drain(result, measure_from)
            state.top_up(window, time.perf_counter())
    result.seconds = min(now, end) - measure_from
    for state in states:
        state.sock.close()
    return result


class _UdpState:
    __slots__ = ("in_flight", "next", "packets", "sent_at", "sock")

    def __init__(self, sock: socket.socket, packets: list[bytes]) -> None:
        self.sock = sock
        self.packets = packets
        self.sent_at = [0.0] * len(packets)
        self.next = 0
        self.in_flight = 0

    def top_up(self, window: int, now: float) -> None:
        send, sent_at, packets = self.sock.send, self.sent_at, self.packets
        while self.in_flight < window:
            index = self.next
            self.next = (index + 1) % PACKETS_PER_SOCKET
            sent_at[index] = now
            send(packets[index])
            self.in_flight += 1

    def drain(self, result: LoadResult, measure_from: float) -> None:
        recv, sent_at = self.sock.recv, self.sent_at
        while True:
            try:
                reply = recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                return
            now = time.perf_counter()
            self.in_flight = max(0, self.in_flight - 1)
            if now >= measure_from:
                index = int.from_bytes(reply[4:8], "big") % PACKETS_PER_SOCKET
                result.answers += 1
                result.latencies.append(now - sent_at[index])


def http_requests(target: Target, count: int, torrents: int, *, close: bool) -> list[bytes]:
    """Prebuilt GET announces, built by the client's own URL code."""
    base = f"http://{target[0]}:{target[1]}/announce"
    persistence = "Connection: close\r\n" if close else ""
    requests = []
    for index in range(count):
        url = urlsplit(announce_url(base, _params(index, 0, torrents)))
        head = f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {target[0]}\r\n{persistence}\r\n"
        requests.append(head.encode())
    return requests


def run_http_load(
    target: Target, connections: int, torrents: int, warmup: float, duration: float
) -> LoadResult:
    """Announce over HTTP on ``connections`` kept-alive connections, one request in
    flight on each."""
    requests = http_requests(target, PACKETS_PER_SOCKET, torrents, close=False)
    selector = selectors.DefaultSelector()
    result = LoadResult()
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + duration
    for number in range(connections):
        _HttpConnection(selector, target, requests, number).send_next(start)
    now = start
    while now < end:
        for key, _ in selector.select(timeout=0.05):
            key.data.readable(result, measure_from)
        now = time.perf_counter()
    result.seconds = min(now, end) - measure_from
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    return result


def run_http_close_load(
    target: Target,
    connections: int,
    program: str,
    torrents: int,
    warmup: float,
    duration: float,
) -> LoadResult:
    """A new connection for every announce, ``connections`` at a time, by ``program``
    (``bench/http_close_load.c`` built): a Python generator tops out below a C tracker."""
    requests = http_requests(target, PACKETS_PER_SOCKET, torrents, close=True)
    with tempfile.NamedTemporaryFile(prefix="announces-") as listing:
        listing.write(b"".join(requests))
        listing.flush()
        command = [program, target[0], str(target[1]), listing.name, str(connections)]
        command += [str(warmup), str(duration)]
        done = subprocess.run(command, capture_output=True, check=True, timeout=duration + 60)
    answers, seconds, *latencies = done.stdout.split()
    return LoadResult(int(answers), float(seconds), [float(value) for value in latencies])


class _HttpConnection:
    __slots__ = (
        "buffer",
        "next",
        "requests",
        "selector",
        "sent_at",
        "sock",
        "target",
    )

    def __init__(
        self,
        selector: selectors.BaseSelector,
        target: Target,
        requests: list[bytes],
        first: int,
    ) -> None:
        self.selector = selector
        self.target = target
        self.requests = requests
        self.next = first
        self.sent_at = 0.0
        self.buffer = b""
        self.sock = self._open()

    def _open(self) -> socket.socket:
        # a plain connect to the numeric address: create_connection's name lookup for
        # every connection would cap the new-connection-per-announce load at a fifth less
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect(self.target)
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, self)
        return sock

    def send_next(self, now: float) -> None:
        self.next = (self.next + 1) % len(self.requests)
        self.sent_at = now
        self._send()

    def _send(self) -> None:
        try:
            self.sock.sendall(self.requests[self.next])
        except OSError:  # closed by the server after its last answer
            self._reopen()

    def _reopen(self) -> None:
        self.selector.unregister(self.sock)
        self.sock.close()
        self.buffer = b""
        self.sock = self._open()
        self._send()

    def readable(self, result: LoadResult, measure_from: float) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._reopen()  # the request in flight goes again; its clock keeps running
            return
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].lower()
        at = head.find(b"content-length:") + len(b"content-length:")
        stop = head.find(b"\r\n", at)
        length = int(head[at : stop if stop >= 0 else None])
        if len(self.buffer) < head_end + 4 + length:
            return
        self.buffer = self.buffer[head_end + 4 + length :]
        now = time.perf_counter()
        if now >= measure_from:
            result.answers += 1
            result.latencies.append(now - self.sent_at)
        self.send_next(now)
