"""Third-party BitTorrent peers as processes, on loopback: libtorrent, aria2, Transmission.

The interop tests and ``bench/peer.py`` start real clients through these
classes. Each one follows DESIGN.md's network rule: it listens on a loopback
address and has DHT, LSD, UPnP, NAT-PMP and PEX off (and uTP, so that every
connection is the TCP one under test). Each is a context manager that starts
the process and, on exit, stops it and waits for it; ``pid`` lets a benchmark
read the process's CPU time and memory.

* :class:`LibtorrentPeer` runs ``lt_peer.py`` (libtorrent 2 from PyPI) in a
  process of its own and follows the JSON lines it prints.
* :class:`Aria2Peer` runs ``aria2c``. With DHT off aria2 ignores UDP trackers,
  so give it torrents with an HTTP tracker. As a leecher it exits 0 once the
  download is complete and verified; as a seed it checks the data first.
* :class:`BitswarmPeer` runs the ``bitswarm`` command (``download`` or
  ``seed``), so that it too has a process of its own.
* :class:`TransmissionPeer` runs ``transmission-daemon`` 3.00 with a config
  folder of its own and drives it over its JSON RPC. Transmission never dials
  peers in 127.0.0.0/8 (the other side must dial it), keys peers by IP only,
  rechokes every 10 s, and must run in a network namespace that has only
  ``lo`` (see ``netns.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

import bitswarm
from bitswarm.core.wire.handshake import HANDSHAKE_SIZE, Extensions, Handshake, parse_handshake
from free_ports import free_port, free_ports

LT_PEER = Path(__file__).with_name("lt_peer.py")
STOP_GRACE = 10.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` every 50 ms; raise ``TimeoutError`` naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class PeerProcess:
    """A started program, stopped (SIGTERM, then SIGKILL after a grace period) on exit."""

    name = "peer"
    port: int
    """The port it accepts peers on (127.0.0.1 unless told otherwise)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._running().pid

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process

    def _spawn(self, argv: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(argv, **popen)
        return self.process

    def start(self) -> None:
        raise NotImplementedError

    def complete(self) -> bool:
        """Whether the peer has every piece, verified; raises if it failed for good."""
        raise NotImplementedError

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()  # it may have been spawned before the start failed
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LibtorrentPeer(PeerProcess):
    """A libtorrent session with one torrent, in a process of its own (``lt_peer.py``)."""

    name = "libtorrent"

    def __init__(
        self,
        torrent: Path,
        save: Path,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
        peers: Sequence[tuple[str, int]] = (),
        seed_mode: bool = False,
        max_up: int = 0,
    ) -> None:
        super().__init__()
        self.argv = [sys.executable, str(LT_PEER), "--torrent", str(torrent), "--save", str(save)]
        self.argv += ["--bind", bind, "--port", str(port), "--max-up", str(max_up)]
        self.argv += [arg for host, p in peers for arg in ("--peer", f"{host}:{p}")]
        if seed_mode:
            self.argv.append("--seed-mode")
        self.save = save
        self.port = 0
        self.status: dict[str, Any] = {}
        self.finished = threading.Event()
        self.finished_at: float | None = None
        self.error: str | None = None
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def uploaded(self) -> int:
        """Payload bytes sent, as of the last status line."""
        return int(self.status.get("uploaded", 0))

    def start(self) -> None:
        self.save.mkdir(parents=True, exist_ok=True)
        process = self._spawn(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._reader = threading.Thread(target=self._follow, args=(process,), daemon=True)
        self._reader.start()
        wait_until(lambda: self._listening.is_set() or process.poll() is not None, "libtorrent")
        if not self._listening.is_set():
            raise RuntimeError(f"lt_peer.py exited with status {process.returncode}")

    def complete(self) -> bool:
        if self.error is not None:
            raise RuntimeError(f"libtorrent: {self.error}")
        return self.finished.is_set()

    def _follow(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            report = json.loads(line)
            event = report.pop("event")
            if event == "listening":
                self.port = int(report["port"])
                self._listening.set()
            elif event == "status":
                self.status = report
            elif event == "finished":
                self.finished_at = float(report["at"])
                self.finished.set()
            elif event == "error":
                self.error = str(report["message"])

    def stop(self) -> None:
        process = self.process
        if process is not None and process.stdin is not None and not process.stdin.closed:
            process.stdin.close()  # lt_peer.py ends when its stdin closes
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE)
        super().stop()
        if process is not None and process.stdout is not None:
            process.stdout.close()


class ExitingPeer(PeerProcess):
    """A program that, as a leecher, exits 0 once the download is complete and verified."""

    log: Path

    def complete(self) -> bool:
        status = self._running().poll()
        if status not in (None, 0):
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{self.name} exited with status {status}:\n{tail}")
        return status == 0


class Aria2Peer(ExitingPeer):
    """``aria2c`` downloading (exits 0 when done) or seeding (checks the data, then seeds)."""

    name = "aria2"

    def __init__(
        self, torrent: Path, folder: Path, *, seed: bool, bind: str = "127.0.0.1", log: Path
    ) -> None:
        super().__init__()
        self.port = free_port(bind)
        self.folder = folder
        self.log = log
        self.argv = [
            "aria2c",
            f"--dir={folder}",
            f"--listen-port={self.port}",
            f"--interface={bind}",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--disable-ipv6=true",
            "--file-allocation=none",
            "--bt-save-metadata=false",
            "--auto-save-interval=0",
            "--summary-interval=0",
            "--console-log-level=warn",
            f"--log={log}",
            "--log-level=info",
            "--bt-tracker-interval=2",
            "--check-integrity=true",
        ]
        # A seed seeds until stopped; a leecher stops seeding (and exits) once complete.
        self.argv += ["--seed-ratio=0.0"] if seed else ["--seed-time=0"]
        self.argv.append(str(torrent))

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._spawn(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


class BitswarmPeer(ExitingPeer):
    """The ``bitswarm`` command: ``download`` (exits 0 once verified) or ``seed``.

    ``folder`` holds the content (``torrent.name`` inside it). Its progress
    lines go to ``log``; with ``profile``, cProfile's statistics go there. It
    is stopped with SIGINT, the Ctrl-C that ends a bitswarm peer cleanly
    (peers closed, resume data saved, ``stopped`` sent).
    """

    name = "bitswarm"

    def __init__(
        self,
        torrent: Path,
        folder: Path,
        *,
        seed: bool,
        log: Path,
        bind: str = "127.0.0.1",
        peers: Sequence[tuple[str, int]] = (),
        profile: Path | None = None,
        max_up: int = 0,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.log = log
        self.port = free_port(bind)
        command = ["seed", str(torrent), str(folder)] if seed else ["download", str(torrent)]
        if not seed:
            command += ["--output", str(folder), "--no-seed", "--json"]
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        self.argv = [sys.executable, *profiler, "-m", "bitswarm", *command]
        self.argv += ["--port", str(self.port), "--bind", bind]
        self.argv += [arg for host, p in peers for arg in ("--peer", f"{host}:{p}")]
        if max_up:
            self.argv += ["--max-up", str(max_up)]

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # The source tree this test imports bitswarm from, installed or not.
        source = str(Path(bitswarm.__file__).resolve().parents[1])
        path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
        environment = dict(os.environ, PYTHONPATH=path)
        with self.log.open("wb") as log:
            self._spawn(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    def record(self) -> dict[str, Any]:
        """What a finished ``download`` reported (its ``--json`` object: uploaded, ...)."""
        lines = self.log.read_text(errors="replace").splitlines()
        found: dict[str, Any] = json.loads(next(li for li in reversed(lines) if li[:1] == "{"))
        return found

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE)
        super().stop()


def answers_handshake(port: int, info_hash: bytes, host: str = "127.0.0.1") -> bool:
    """Whether a peer on ``host:port`` serves ``info_hash`` now (it answers a handshake)."""
    hello = Handshake(info_hash, b"-BS0100-readinessprb", Extensions.NONE).encode()
    try:
        with socket.create_connection((host, port), timeout=5) as probe:
            probe.sendall(hello)
            answer = b""
            while len(answer) < HANDSHAKE_SIZE and (data := probe.recv(HANDSHAKE_SIZE)):
                answer += data
    except OSError:
        return False
    return (
        len(answer) >= HANDSHAKE_SIZE
        and parse_handshake(answer[:HANDSHAKE_SIZE]).info_hash == info_hash
    )


class TransmissionRpcError(RuntimeError):
    """transmission-daemon answered an RPC call with something other than ``success``."""


class TransmissionPeer(PeerProcess):
    """``transmission-daemon`` 3.00 in the foreground, with one torrent, driven over JSON RPC."""

    name = "transmission"

    def __init__(
        self, torrent: Path, folder: Path, config: Path, *, bind: str = "127.0.0.1"
    ) -> None:
        super().__init__()
        self.torrent_file = torrent
        self.folder = folder
        self.config = config
        self.bind = bind
        self.port, self.rpc_port = free_ports(2, bind)
        self._session_id = ""
        self._rpc_error: OSError | None = None
        self._opener = build_opener(ProxyHandler({}))

    def settings(self) -> dict[str, Any]:
        """settings.json: loopback only, no DHT/LPD/PEX/uTP/port forwarding, no limits."""
        return {
            "bind-address-ipv4": self.bind,
            "bind-address-ipv6": "::1",
            "peer-port": self.port,
            "peer-port-random-on-start": False,
            "port-forwarding-enabled": False,
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "utp-enabled": False,
            "encryption": 0,  # plain handshakes preferred, encrypted ones accepted
            "rpc-enabled": True,
            "rpc-bind-address": self.bind,
            "rpc-port": self.rpc_port,
            "rpc-authentication-required": False,
            "rpc-whitelist-enabled": True,
            "rpc-whitelist": "127.*",
            "rpc-host-whitelist-enabled": False,
            "download-dir": str(self.folder),
            "incomplete-dir-enabled": False,
            "rename-partial-files": False,
            "start-added-torrents": True,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "speed-limit-up-enabled": False,
            "speed-limit-down-enabled": False,
            "alt-speed-enabled": False,
            "blocklist-enabled": False,
            "message-level": 2,
        }

    def start(self) -> None:
        self.config.mkdir(parents=True, exist_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.config / "settings.json").write_text(json.dumps(self.settings(), indent=1))
        log = (self.config / "daemon.log").open("wb")
        self._spawn(
            ["transmission-daemon", "--foreground", "--config-dir", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_until(self._answers, "transmission-daemon's RPC", timeout=20)
        except TimeoutError as error:
            tail = (self.config / "daemon.log").read_text(errors="replace")[-2000:]
            raise TimeoutError(f"{error} (last: {self._rpc_error!r}); its log:\n{tail}") from None
        added = self.call(
            "torrent-add", filename=str(self.torrent_file), **{"download-dir": str(self.folder)}
        )
        if "torrent-added" not in added and "torrent-duplicate" not in added:
            raise TransmissionRpcError(f"torrent-add answered {added!r}")

    def _answers(self) -> bool:
        if self._running().poll() is not None:
            raise RuntimeError(
                f"transmission-daemon exited with status {self._running().returncode}"
            )
        try:
            self.call("session-get")
        except OSError as error:  # refused while it starts (HTTP errors are OSErrors too)
            self._rpc_error = error
            return False
        return True

    def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        """One RPC call; fetches the CSRF session id (HTTP 409) when it is missing or stale."""
        body = json.dumps({"method": method, "arguments": arguments}).encode()
        for _ in range(2):
            request = Request(
                f"http://{self.bind}:{self.rpc_port}/transmission/rpc",
                data=body,
                headers={"X-Transmission-Session-Id": self._session_id},
            )
            try:
                with self._opener.open(request, timeout=10) as response:
                    answer: dict[str, Any] = json.load(response)
            except HTTPError as error:
                if error.code != 409:
                    raise
                self._session_id = error.headers.get("X-Transmission-Session-Id", "")
                continue
            if answer.get("result") != "success":
                raise TransmissionRpcError(f"{method}: {answer.get('result')!r}")
            return dict(answer.get("arguments", {}))
        raise TransmissionRpcError(f"{method}: no session id after a 409")

    def state(self) -> dict[str, Any]:
        """The torrent's fields: percentDone, status, error, peersConnected, uploadedEver ..."""
        fields = ["percentDone", "status", "error", "errorString", "peersConnected"]
        fields += ["uploadedEver", "downloadedEver", "haveValid", "recheckProgress"]
        torrents = self.call("torrent-get", fields=fields)["torrents"]
        if len(torrents) != 1:
            raise TransmissionRpcError(f"expected one torrent, transmission has {len(torrents)}")
        torrent: dict[str, Any] = torrents[0]
        if torrent["error"]:
            raise TransmissionRpcError(f"torrent error: {torrent['errorString']}")
        return torrent

    def complete(self) -> bool:
        """Every piece present and verified (checking is status 1 and 2)."""
        torrent = self.state()
        return bool(torrent["percentDone"] == 1 and torrent["status"] not in (1, 2))
