"""Test support shared by every test folder: the network guard, and skips CI turns into failures.

Imported by name (``from bitswarm_testing import ...``): a ``conftest`` module
cannot be, because pytest loads every folder's conftest.py under that one name.

DESIGN.md's network rule: tests talk only to loopback. The guard wraps the
socket calls that choose a peer or a local address (``connect``, ``connect_ex``,
``sendto``, ``sendmsg``, ``bind``) and name resolution. Any other address raises
at once and is also recorded, so that a test which swallows the exception still
fails when it ends.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from typing import Any, NoReturn

import pytest

_violations: list[str] = []
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class NetworkGuardError(OSError):
    """A test tried to reach or bind an address outside loopback."""


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _check(sock: socket.socket | None, address: Any, call: str) -> None:
    if sock is not None and sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        message = f"network guard: {call} to {address!r} is outside loopback"
        _violations.append(message)
        raise NetworkGuardError(message)


def _install_guard() -> None:
    real = socket.socket
    originals = {
        name: getattr(real, name) for name in ("connect", "connect_ex", "bind", "sendto", "sendmsg")
    }

    def connect(self: socket.socket, address: Any) -> Any:
        _check(self, address, "connect")
        return originals["connect"](self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _check(self, address, "connect_ex")
        return originals["connect_ex"](self, address)

    def bind(self: socket.socket, address: Any) -> Any:
        _check(self, address, "bind")
        return originals["bind"](self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        _check(self, args[-1], "sendto")
        return originals["sendto"](self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> Any:
        if len(args) >= 3 and args[2] is not None:
            _check(self, args[2], "sendmsg")
        return originals["sendmsg"](self, buffers, *args)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            _check(None, host, "getaddrinfo")
        return real_getaddrinfo(host, *args, **kwargs)

    real.connect = connect  # type: ignore[method-assign]
    real.connect_ex = connect_ex  # type: ignore[method-assign]
    real.bind = bind  # type: ignore[method-assign]
    real.sendto = sendto  # type: ignore[method-assign,assignment]
    real.sendmsg = sendmsg  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


_install_guard()


def missing(reason: str, hint: str = "") -> NoReturn:
    """Skip the test for ``reason`` (``hint``: how to fix it); fail it under BITSWARM_REQUIRE_TOOLS.

    CI sets ``BITSWARM_REQUIRE_TOOLS=1`` so tests can never be skipped there by
    an install step, a build step or a machine feature that silently went missing.
    """
    if os.environ.get("BITSWARM_REQUIRE_TOOLS"):
        pytest.fail(f"{reason}, and BITSWARM_REQUIRE_TOOLS is set", pytrace=False)
    pytest.skip(f"{reason} ({hint})" if hint else reason)


def require_program(name: str) -> str:
    """Path of a third-party program, or :func:`missing`."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed")
    return path
