"""Batched datagram I/O on real loopback sockets, with the C helper and with its Python twin."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from tracker_helpers import HASH, started

from bitswarm.aio import datagram_batch
from bitswarm.aio.datagram_batch import BATCH, MAX_DATAGRAM, DatagramBatches
from bitswarm.core.tracker.model import Event
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    decode_response,
)
from bitswarm_testing import missing

LOOPBACK = bytes([127, 0, 0, 1])


@pytest.fixture(params=["batched", "plain"])
def batched(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test runs over recvmmsg/sendmmsg and over plain recvfrom/sendto."""
    if request.param == "plain":
        monkeypatch.setattr(datagram_batch, "HELPER", None)
        return False
    if datagram_batch.HELPER is None:
        missing(
            "the C helper bitswarm.aio._datagrams is not built",
            "python setup.py build_ext --inplace",
        )
    return True


@pytest.fixture
def server_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def client(family: int = socket.AF_INET) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def receive_all(io: DatagramBatches, count: int) -> list[tuple[bytes, bytes, object]]:
    received: list[tuple[bytes, bytes, object]] = []
    for _ in range(1000):
        batch = io.receive()
        assert len(batch) <= BATCH
        received += batch
        if len(received) >= count:
            break
    return received


def test_the_mode_asked_for_is_the_mode_used(batched: bool, server_socket: socket.socket) -> None:
    assert DatagramBatches(server_socket).batched is batched
    assert DatagramBatches(server_socket, batched=False).batched is False


def test_nothing_waiting_is_an_empty_batch(batched: bool, server_socket: socket.socket) -> None:
    assert DatagramBatches(server_socket).receive() == []


def test_many_datagrams_from_two_sources_come_in_batches_and_replies_reach_each(
    batched: bool, server_socket: socket.socket
) -> None:
    io = DatagramBatches(server_socket)
    one, two = client(), client()
    target = server_socket.getsockname()
    for n in range(100):
        (one if n % 2 else two).sendto(n.to_bytes(2, "big"), target)
    received = receive_all(io, 100)
    assert sorted(int.from_bytes(data, "big") for data, _, _ in received) == list(range(100))
    assert {ip for _, ip, _ in received} == {LOOPBACK}
    io.send([(b"re:" + data, address) for data, _, address in received])
    replies = [sock.recv(64) for sock in (one, two) for _ in range(50)]
    assert sorted(int.from_bytes(reply[3:], "big") for reply in replies) == list(range(100))
    assert all(reply.startswith(b"re:") for reply in replies)
    one.close()
    two.close()


def test_an_oversized_datagram_arrives_cut_and_the_next_whole(
    batched: bool, server_socket: socket.socket
) -> None:
    io = DatagramBatches(server_socket)
    sender = client()
    sender.sendto(b"x" * (MAX_DATAGRAM + 500), server_socket.getsockname())
    sender.sendto(b"small", server_socket.getsockname())
    received = receive_all(io, 2)
    assert [len(data) for data, _, _ in received] == [MAX_DATAGRAM, 5]
    sender.close()


def test_an_ipv6_source_gives_its_16_byte_ip(batched: bool) -> None:
    try:
        server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        server.bind(("::1", 0))
    except OSError:
        missing("no IPv6 loopback on this machine")
    io = DatagramBatches(server)
    sender = client(socket.AF_INET6)
    sender.sendto(b"hello", server.getsockname())
    [(data, ip, address)] = receive_all(io, 1)
    assert (data, ip) == (b"hello", bytes(15) + b"\x01")
    io.send([(b"back", address)])
    assert sender.recv(16) == b"back"
    sender.close()
    server.close()


def test_a_reply_to_a_closed_port_does_not_stop_the_others(
    batched: bool, server_socket: socket.socket
) -> None:
    io = DatagramBatches(server_socket)
    gone, alive = client(), client()
    for sock in (gone, alive):
        sock.sendto(b"ask", server_socket.getsockname())
    received = receive_all(io, 2)
    gone.close()
    io.send([(b"answer", address) for _, _, address in received] * 2)
    assert alive.recv(16) == b"answer"
    alive.sendto(b"again", server_socket.getsockname())
    assert [data for data, _, _ in receive_all(io, 1)] == [b"again"]
    alive.close()


async def test_the_udp_tracker_answers_in_either_mode(batched: bool) -> None:
    server = await started(http=None)
    assert server.udp_address is not None
    sock = client()
    try:
        sock.sendto(ConnectRequest(9).encode(), server.udp_address)
        connected = decode_response(await _reply(sock))
        assert isinstance(connected, ConnectResponse)
        announces = [
            AnnounceRequest(
                connected.connection_id, n, HASH, n.to_bytes(20, "big"), 0, 1, 0,
                Event.STARTED, 0, 0, -1, 7000 + n,
            ).encode()
            for n in range(1, 4)
        ]  # fmt: skip
        for packet in announces:
            sock.sendto(packet, server.udp_address)
        replies = [decode_response(await _reply(sock)) for _ in announces]
        assert all(isinstance(reply, AnnounceResponse) for reply in replies)
        assert server.context is not None
        assert server.context.metrics.get("udp", "announces") == 3
        last = max(replies, key=lambda reply: reply.transaction_id)  # type: ignore[union-attr]
        assert isinstance(last, AnnounceResponse) and last.leechers == 3
    finally:
        sock.close()
        await server.stop()


async def _reply(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 2048), 2.0)


async def test_a_socket_error_is_logged_and_the_tracker_goes_on(
    batched: bool, caplog: pytest.LogCaptureFixture
) -> None:
    server = await started(http=None)
    assert server.udp_address is not None and server._udp is not None and server.context
    endpoint = server._udp
    real = endpoint._io.receive
    failures = iter([OSError(12, "Cannot allocate memory")])

    def flaky() -> list[tuple[bytes, bytes, object]]:
        error = next(failures, None)
        if error is not None:
            raise error
        return real()

    endpoint._io.receive = flaky
    sock = client()
    try:
        sock.sendto(ConnectRequest(1).encode(), server.udp_address)
        await asyncio.sleep(0.2)  # the first wake fails; the datagram waits for the next
        assert "UDP tracker socket error" in caplog.text
        sock.sendto(ConnectRequest(2).encode(), server.udp_address)
        replies = [decode_response(await _reply(sock)) for _ in range(2)]
        assert all(isinstance(reply, ConnectResponse) for reply in replies)
    finally:
        sock.close()
        await server.stop()
