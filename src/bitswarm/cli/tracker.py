"""``bitswarm tracker``: run an HTTP and UDP BitTorrent tracker (BEP 3, 15, 23, 48).

Open by default: any torrent, any client. ``--private`` serves only the
passkeys and info-hashes given with ``--passkey``/``--allow`` or added at run
time through the admin API (``--admin-token``). With a Redis store the lists
live in Redis, shared by every worker and host and kept across restarts; the
memory store keeps them in the one process, so the admin API is refused with
``--workers`` above 1 and the memory store. ``--interval``, ``--min-interval``
and ``--tracker-id`` fill in the announce replies. One line on stderr says where
it listens; SIGINT or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import re

import click

from bitswarm.aio.tracker_http_limits import MAX_CONNECTIONS, MAX_PER_ADDRESS
from bitswarm.aio.tracker_run import event_loop_name, serve, serve_workers
from bitswarm.aio.tracker_server import REDIS_SCHEMES, HostPort, TrackerConfig, TrackerServer
from bitswarm.cli.errors import UserError
from bitswarm.core.tracker.policy import DEFAULT_INTERVAL, TrackerPolicy

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:]*)):(?P<port>\d{1,5})$")


def _host_port(ctx: click.Context, param: click.Parameter, text: str) -> HostPort | None:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` (all IPv4 addresses) or ``off``."""
    if text == "off":
        return None
    match = _HOST_PORT.match(text)
    if not match or int(match["port"]) > 0xFFFF:
        raise click.BadParameter(f"{text!r} is not HOST:PORT, [IPv6]:PORT, :PORT or off")
    return match["v6"] or match["host"] or "0.0.0.0", int(match["port"])


@click.command("tracker")
@click.option(
    "--http",
    "http",
    callback=_host_port,
    metavar="HOST:PORT",
    default="0.0.0.0:6969",
    show_default=True,
    help="Where the HTTP tracker listens, or 'off'.",
)
@click.option(
    "--udp",
    "udp",
    callback=_host_port,
    metavar="HOST:PORT",
    default="0.0.0.0:6969",
    show_default=True,
    help="Where the UDP tracker listens, or 'off'.",
)
@click.option(
    "--store",
    default="memory",
    show_default=True,
    help="Peer store: 'memory', or a redis:// URL shared by several trackers.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Processes sharing the ports (SO_REUSEPORT).",
)
@click.option("--private", is_flag=True, help="Serve only listed passkeys and info-hashes.")
@click.option("--passkey", "passkeys", multiple=True, help="A passkey to accept (repeatable).")
@click.option(
    "--allow",
    "allowed",
    multiple=True,
    metavar="INFO_HASH",
    help="An info-hash (40 hex digits) to serve in private mode (repeatable).",
)
@click.option(
    "--interval",
    type=click.IntRange(10, 86400),
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="Seconds between a client's announces.",
)
@click.option(
    "--min-interval",
    type=click.IntRange(0, 86400),
    metavar="S",
    help="Seconds a client must wait between announces (default: half the interval).",
)
@click.option(
    "--tracker-id",
    metavar="TEXT",
    help="Sent as 'tracker id' in HTTP announce replies; clients send it back (BEP 3).",
)
@click.option(
    "--secret",
    help="Key of the UDP connection ids; give all tracker "
    "processes behind one address the same (default: random).",
)
@click.option(
    "--admin-token",
    help="Enable the admin API, guarded by this bearer token "
    "(with --workers, needs a redis:// store).",
)
@click.option(
    "--client-address-header",
    metavar="HEADER",
    help="Take the client's address from this header (behind a reverse proxy).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Open HTTP connections per process, at most (capped by the open-file limit).",
)
@click.option(
    "--max-connections-per-address",
    type=click.IntRange(0),
    help=f"Open HTTP connections from one client address, at most; 0 for no bound "
    f"[default: {MAX_PER_ADDRESS}, none with --client-address-header].",
)
@click.option(
    "--allow-claimed-ip",
    is_flag=True,
    help="Honour the address a client claims with ip= (trusted networks only).",
)
def tracker(
    http: HostPort | None, udp: HostPort | None, store: str, workers: int, private: bool,
    passkeys: tuple[str, ...], allowed: tuple[str, ...], interval: int, min_interval: int | None,
    tracker_id: str | None, secret: str | None, admin_token: str | None,
    client_address_header: str | None, max_connections: int,
    max_connections_per_address: int | None, allow_claimed_ip: bool,
) -> None:  # fmt: skip
    """Run a BitTorrent tracker over HTTP and UDP."""
    if http is None and udp is None:
        raise UserError("both --http and --udp are off: nothing to serve")
    if store != "memory" and not store.startswith(REDIS_SCHEMES):
        raise UserError(f"--store must be 'memory' or a redis:// URL, not {store!r}")
    if min_interval is not None and min_interval > interval:
        raise UserError(f"--min-interval {min_interval} is longer than --interval {interval}")
    policy = TrackerPolicy(
        interval=interval,
        min_interval=min_interval,
        allow_claimed_ip=allow_claimed_ip,
        tracker_id=(tracker_id or "").encode(),
    )
    options: dict[str, object] = dict(
        http=http, udp=udp, store_url=store, private=private, passkeys=passkeys,
        allowed_info_hashes=tuple(_info_hash(text) for text in allowed),
        policy=policy,
        admin_token=admin_token, client_address_header=client_address_header,
        max_connections=max_connections,
        max_connections_per_address=max_connections_per_address,
    )  # fmt: skip
    if secret is not None:
        options["secret"] = secret.encode()
    try:
        config = TrackerConfig(**options)  # type: ignore[arg-type]
    except ValueError as error:
        raise UserError(str(error)) from None
    if workers == 1:
        serve(config, _announce_start)
        return
    if any(where is not None and where[1] == 0 for where in (http, udp)):
        raise UserError("--workers needs fixed ports: port 0 would give each worker its own")
    if admin_token and store == "memory":
        raise UserError(
            "--admin-token with --workers needs --store redis://...: with the memory store "
            "each worker keeps its own access lists, and a change would reach only one"
        )
    described = TrackerServer(config).describe()
    click.echo(f"bitswarm: {workers} workers, {described}, {event_loop_name()} loop", err=True)
    if store == "memory":
        click.echo("bitswarm: note: with the memory store, workers do not share swarms; "
                   "use --store redis://... to share them", err=True)  # fmt: skip
    status = serve_workers(config, workers)
    if status:
        raise UserError(f"a tracker worker exited with status {status}", status=1)


def _announce_start(server: TrackerServer) -> None:
    click.echo(f"bitswarm: {server.describe()}, {event_loop_name()} loop", err=True)


def _info_hash(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 20:
        raise UserError(f"--allow takes an info-hash of 40 hex digits, not {text!r}")
    return value
