"""Datagrams by the batch: one system call for many, where the platform allows.

A UDP tracker's work per announce is a few microseconds of Python; a
``recvfrom`` and a ``sendto`` per datagram cost more than that, mostly in
building and parsing ``(host, port)`` tuples. The C helper
``bitswarm.aio._datagrams`` (Linux ``recvmmsg``/``sendmmsg``) moves up to 64
datagrams per call and keeps each source as its raw sockaddr, handed back
unchanged with the reply. Without it (no compiler at install, another
platform) the same interface runs on plain socket calls.

A source comes with its packed IP (4 bytes for IPv4 and IPv4-mapped IPv6,
else 16), the tracker's key for a client, and with an opaque reply address
that only :meth:`DatagramBatches.send` needs to understand.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from bitswarm.core.tracker.compact import packed_ip

Received = tuple[bytes, bytes, Any]
"""A datagram, its source's packed IP, and the address to answer it at."""

Helper = tuple[Callable[[int, int], list[Received]], Callable[[int, list[tuple[bytes, Any]]], int]]


def _helper() -> Helper | None:
    try:
        from bitswarm.aio import _datagrams
    except ImportError:  # built without the C helper
        return None
    return _datagrams.receive, _datagrams.send


HELPER = _helper()
"""The C helper's receive and send, or ``None`` when ``bitswarm.aio._datagrams`` was not built."""

BATCH = 64
"""Datagrams per receive call (the C helper's bound)."""

MAX_DATAGRAM = 2048
"""Bytes read per datagram; a longer one arrives cut at this length, which no request is."""


class DatagramBatches:
    """Receives and sends the datagrams of one non-blocking UDP socket in batches."""

    def __init__(self, sock: socket.socket, *, batched: bool = True) -> None:
        sock.setblocking(False)
        self.sock = sock
        helper = HELPER if batched else None
        self.batched = helper is not None
        self.receive: Callable[[], list[Received]] = self._receive_each
        """The datagrams waiting, up to :data:`BATCH`; ``[]`` when none."""
        self.send: Callable[[list[tuple[bytes, Any]]], object] = self._send_each
        """Sends ``(data, address)`` pairs; a full send queue drops the rest, as UDP may."""
        if helper is not None:
            receive_many, send_many = helper
            fd = sock.fileno()
            self.receive = lambda: receive_many(fd, BATCH)
            self.send = lambda replies: send_many(fd, replies)

    def _receive_each(self) -> list[Received]:
        received: list[Received] = []
        recvfrom = self.sock.recvfrom
        while len(received) < BATCH:
            try:
                data, address = recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # an ICMP error about an earlier reply: nothing to receive
                continue
            received.append((data, packed_ip(address[0]), address))
        return received

    def _send_each(self, replies: list[tuple[bytes, Any]]) -> None:
        sendto = self.sock.sendto
        for data, address in replies:
            try:
                sendto(data, address)
            except BlockingIOError:
                return
            except OSError:  # one unreachable client must not stop the others' replies
                continue
