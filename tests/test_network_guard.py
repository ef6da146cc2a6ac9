"""The network guard itself: loopback passes, anything else fails at once."""

from __future__ import annotations

import socket

import pytest

from bitswarm_testing import NetworkGuardError, _violations


def test_loopback_bind_and_connect_are_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


@pytest.mark.parametrize(
    ("family", "kind", "address"),
    [
        (socket.AF_INET, socket.SOCK_STREAM, ("192.0.2.1", 80)),
        (socket.AF_INET, socket.SOCK_DGRAM, ("10.1.2.3", 6881)),
        (socket.AF_INET, socket.SOCK_STREAM, ("0.0.0.0", 0)),
        (socket.AF_INET6, socket.SOCK_STREAM, ("2001:db8::1", 80, 0, 0)),
    ],
)
def test_other_addresses_fail(family: int, kind: int, address: tuple[object, ...]) -> None:
    before = len(_violations)
    with socket.socket(family, kind) as sock, pytest.raises(NetworkGuardError, match="outside"):
        if address[0] == "0.0.0.0":
            sock.bind(address)
        elif kind == socket.SOCK_DGRAM:
            sock.sendto(b"x", address)
        else:
            sock.connect(address)
    del _violations[before:]  # the violation was the point of this test


def test_name_resolution_outside_loopback_fails() -> None:
    before = len(_violations)
    with pytest.raises(NetworkGuardError):
        socket.getaddrinfo("example.org", 80)
    del _violations[before:]
    assert socket.getaddrinfo("localhost", 80)
