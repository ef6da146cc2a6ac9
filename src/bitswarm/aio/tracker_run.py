"""Running a tracker as a program: until SIGINT/SIGTERM, in one process or several.

:func:`serve` runs one :class:`~bitswarm.aio.tracker_server.TrackerServer`
until a signal arrives, then stops it cleanly (the UDP jobs in flight finish,
the HTTP site closes, the store is closed). :func:`serve_workers` forks that
``workers`` times, every child binding the same ports with ``SO_REUSEPORT`` so
the kernel spreads clients over them, and passes the parent's signals on to
the children. The children share the connection-id secret, so a UDP client
may land on any of them; they share swarms, access lists and request counters
only through a shared store. Each knows its number (``worker``), which
``/stats`` shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace

from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(config: TrackerConfig, on_start: Callable[[TrackerServer], None]) -> None:
    """Run one tracker until SIGINT or SIGTERM; ``on_start`` sees it once it listens."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(config, on_start))


async def _serve(config: TrackerConfig, on_start: Callable[[TrackerServer], None]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in _STOP_SIGNALS:
        loop.add_signal_handler(number, stop.set)
    server = TrackerServer(config)
    await server.start()
    try:
        on_start(server)
        await stop.wait()
    finally:
        await server.stop()


def serve_workers(config: TrackerConfig, workers: int) -> int:
    """Fork ``workers`` processes serving ``config``; wait for all; the worst exit status."""
    children: list[int] = []
    for number in range(workers):
        pid = os.fork()
        if pid == 0:
            _child(replace(config, reuse_port=True, worker=number))
        children.append(pid)

    def forward(number: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    for number in _STOP_SIGNALS:
        signal.signal(number, forward)
    worst = 0
    for pid in children:
        _, status = os.waitpid(pid, 0)
        worst = max(worst, os.waitstatus_to_exitcode(status))
    return worst


def _child(config: TrackerConfig) -> None:
    status = 0
    try:
        serve(config, lambda _server: None)
    except BaseException as error:  # report, then leave without running the parent's code
        print(f"bitswarm: tracker worker {os.getpid()}: {error}", file=sys.stderr)
        status = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def event_loop_name() -> str:
    """The event loop a tracker process runs on: ``uvloop`` when installed, else ``asyncio``."""
    return "asyncio" if _loop_factory() is None else "uvloop"


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed: an optional speed-up, never required."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
