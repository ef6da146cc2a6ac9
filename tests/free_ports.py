"""Ports free on loopback now, for programs the tests start on a fixed port.

Why not ``bind(0)``: the kernel picks those ports from its ephemeral range,
the same range it takes the local port of every outgoing connection from. A
port probed free and closed could then be taken by any connection a running
peer or tracker dials before the program under test binds it ("port already
in use"). A port below that range is never handed out behind our back, so
the probes pick at random from there.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

LOWEST = 10_000
"""Ports below this are left to system services."""


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default where unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int, host: str = "127.0.0.1", *, udp: bool = False) -> list[int]:
    """``count`` distinct ports free on ``host`` for TCP (and UDP too with ``udp``).

    The probes are held open together: one closed before the next is bound
    could hand out the same port twice.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    candidates = random.sample(range(LOWEST, _ephemeral_low()), 200 + count)
    found: list[int] = []
    with contextlib.ExitStack() as stack:
        for port in candidates:
            probes = [stack.enter_context(socket.socket(family, kind)) for kind in kinds]
            try:
                for probe in probes:
                    probe.bind((host, port))
            except OSError:
                continue
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError(f"no {count} free ports on {host} below the ephemeral range")


def free_port(host: str = "127.0.0.1", *, udp: bool = False) -> int:
    return free_ports(1, host, udp=udp)[0]
