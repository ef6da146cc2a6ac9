"""A libtorrent peer in a process of its own, for interop tests and benchmarks.

Run by :class:`peers.LibtorrentPeer`. It runs one libtorrent 2 session with
one torrent on ``--bind`` (a loopback address), with DHT, LSD, UPnP, NAT-PMP,
uTP and the default plugins (so PEX) off, per DESIGN.md's network rule, and
reports on stdout, one JSON object a line:

* ``{"event": "listening", "port": N}`` once the listen socket is open;
* ``{"event": "status", ...}`` every ``--every`` seconds: progress, state,
  peers, payload bytes up and down;
* ``{"event": "finished", "at": T}`` as soon as it has every piece (at once for
  a seed), ``T`` being ``time.monotonic()`` then: on Linux one clock for every
  process, so the benchmark can time the download to that moment;
* ``{"event": "error", "message": ...}`` when the torrent fails.

It runs until SIGTERM or until stdin closes. A process of its own keeps its
CPU time and memory apart from the peer it talks to, which the benchmark
measures side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from typing import Any

import libtorrent as lt

WAKE_MS = 50
"""Milliseconds the loop waits for an alert before it looks at the stop flag again."""


def settings(bind: str, port: int, encryption: bool) -> dict[str, Any]:
    policy = lt.enc_policy.enabled if encryption else lt.enc_policy.pe_disabled
    return {
        "listen_interfaces": f"{bind}:{port}",
        "outgoing_interfaces": bind,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": int(policy),
        "in_enc_policy": int(policy),
        # Every peer of a loopback test shares 127.0.0.1: let each one connect.
        "allow_multiple_connections_per_ip": True,
        # Announce again as soon as a short tracker interval allows (default 5 min).
        "min_announce_interval": 1,
        "alert_mask": int(lt.alert_category.error | lt.alert_category.status),
    }


def cap_loopback_too(session: Any, max_up: int) -> None:
    """Cap the upload at ``max_up`` bytes/s for every peer: libtorrent's default peer class
    filter puts loopback and LAN peers in a class no rate limit applies to."""

    everyone = lt.ip_filter()
    everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    session.set_peer_class_filter(everyone)
    session.apply_settings({"upload_rate_limit": max_up})


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torrent", required=True)
    parser.add_argument("--save", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[], help="HOST:PORT to dial")
    parser.add_argument("--seed-mode", action="store_true", help="trust the data, skip the check")
    parser.add_argument("--encryption", action="store_true", help="allow MSE/PE")
    parser.add_argument("--every", type=float, default=0.2)
    parser.add_argument("--max-up", type=int, default=0, help="upload cap, bytes/s (0: none)")
    return parser.parse_args()


def _stop_at_end_of_input(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


def main() -> None:
    arguments = parse_arguments()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_stop_at_end_of_input, args=(stop,), daemon=True).start()

    # A dict is a settings_pack in the Python binding; flags 0: no default plugins (no PEX).
    pack = settings(arguments.bind, arguments.port, arguments.encryption)
    session = lt.session(pack, 0)  # type: ignore[call-overload]
    if arguments.max_up:
        cap_loopback_too(session, arguments.max_up)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(arguments.torrent)
    params.save_path = arguments.save
    if arguments.seed_mode:
        params.flags |= lt.torrent_flags.seed_mode
    handle = session.add_torrent(params)
    emit("listening", port=session.listen_port())
    for peer in arguments.peer:
        host, _, port = peer.rpartition(":")
        handle.connect_peer((host, int(port)))

    finished = False
    reported = -math.inf
    while not stop.is_set():
        # Woken at once by an alert (the torrent's state changing to seeding among them), so
        # "finished" comes when the last piece is verified, not up to a status period later.
        alert = session.wait_for_alert(WAKE_MS)
        session.pop_alerts()
        now = time.monotonic()
        due = now - reported >= arguments.every
        if alert is None and not due:
            continue  # nothing happened: no status asked of the session
        status = handle.status()
        if status.errc.value() != 0:
            emit("error", message=status.errc.message())
            break
        if due:
            reported = now
            emit(
                "status",
                progress=status.progress,
                state=str(status.state),
                peers=status.num_peers,
                uploaded=status.total_payload_upload,
                downloaded=status.total_payload_download,
            )
        if status.is_seeding and not finished:
            finished = True
            emit("finished", at=now)
    session.pause()


if __name__ == "__main__":
    main()
