"""``bitswarm tracker`` as a real process: start line, service, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from bitswarm.aio.tracker_run import event_loop_name
from bitswarm.core.tracker.udp import ConnectRequest, ConnectResponse, decode_response
from cli.helpers import Run, assert_one_error_line
from tracker_processes import announce_over_http, free_port, running_tracker, spawn, stats

START = re.compile(r"http://127\.0\.0\.1:(\d+)/announce udp://127\.0\.0\.1:(\d+)/announce")


@pytest.fixture
def tracker_process() -> Iterator[subprocess.Popen[str]]:
    process = spawn("--http", "127.0.0.1:0", "--udp", "127.0.0.1:0", "--interval", "60")
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def udp_connect(udp_port: int) -> ConnectResponse:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(ConnectRequest(5).encode(), ("127.0.0.1", udp_port))
        reply = decode_response(sock.recv(100))
    assert isinstance(reply, ConnectResponse)
    return reply


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_starts_serves_and_stops_cleanly(
    tracker_process: subprocess.Popen[str], stop: signal.Signals
) -> None:
    assert tracker_process.stderr is not None
    line = tracker_process.stderr.readline()
    found = START.search(line)
    assert found, line
    http_port, udp_port = int(found[1]), int(found[2])
    assert "open" in line and "store memory" in line
    assert line.rstrip().endswith(f"{event_loop_name()} loop")
    reply = announce_over_http(http_port, 1)
    assert reply[b"interval"] == 60 and reply[b"incomplete"] == 1
    assert reply[b"min interval"] == 30 and b"tracker id" not in reply
    assert udp_connect(udp_port).transaction_id == 5
    tracker_process.send_signal(stop)
    _, rest = tracker_process.communicate(timeout=20)
    assert tracker_process.returncode == 0
    assert "Traceback" not in rest


def test_announce_replies_carry_the_tracker_id_and_min_interval() -> None:
    process = spawn("--http", "127.0.0.1:0", "--udp", "off", "--interval", "120",
                    "--min-interval", "45", "--tracker-id", "tracker-7")  # fmt: skip
    try:
        assert process.stderr is not None
        found = re.search(r"http://127\.0\.0\.1:(\d+)/announce", process.stderr.readline())
        assert found
        reply = announce_over_http(int(found[1]), 1)
        assert (reply[b"interval"], reply[b"min interval"]) == (120, 45)
        assert reply[b"tracker id"] == b"tracker-7"
    finally:
        process.kill()
        process.wait()


def test_workers_share_the_ports_and_stop_on_sigterm() -> None:
    port = free_port()
    where = f"127.0.0.1:{port}"
    process = spawn("--http", where, "--udp", where, "--workers", "2", "--secret", "s3cret")
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "2 workers" in first and f"http://{where}/announce" in first
        assert first.rstrip().endswith(f"{event_loop_name()} loop")
        assert "do not share swarms" in process.stderr.readline()
        for _ in range(100):  # the children bind after the parent's lines
            try:
                announce_over_http(port, 1)
                break
            except OSError:
                time.sleep(0.1)
        assert announce_over_http(port, 1)[b"interval"] == 1800
        assert udp_connect(port).transaction_id == 5
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_workers_with_the_memory_store_report_their_own_figures_labelled() -> None:
    port = free_port()
    with running_tracker(port, workers=2):
        for peer in range(20):  # fresh connections, spread over both workers
            announce_over_http(port, peer)
        announces: dict[int, int] = {}
        deadline = time.monotonic() + 10
        while len(announces) < 2:  # /stats from each worker (wait_until_serving saw both)
            assert time.monotonic() < deadline, f"only workers {set(announces)} answered"
            document = stats(port)
            assert document["scope"] == "worker"
            assert document["leechers"] == document["requests"]["http"]["announces"]
            announces[document["worker"]] = document["requests"]["http"]["announces"]
        assert sum(announces.values()) == 20
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(re.search(r'worker="[01]"', line) for line in samples)
    found = re.search(r'announces_total\{protocol="http",worker="([01])"\} (\d+)', text)
    assert found and announces[int(found[1])] == int(found[2])


def test_connections_over_the_per_address_bound_are_refused() -> None:
    port = free_port()
    kept = b"GET /stats HTTP/1.1\r\nHost: t\r\n\r\n"  # a kept-alive request holds its place
    with running_tracker(port, "--max-connections-per-address", "4"):
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(kept)
                assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
                extra.sendall(kept)
                assert extra.recv(100).startswith(b"HTTP/1.1 503 Service Unavailable")
            other = announce_over_http(port, 1, source="127.0.0.2")
            assert other[b"incomplete"] == 1
        finally:
            for sock in held:
                sock.close()


def test_bad_options_are_one_line_errors(run: Run) -> None:
    invoke = run
    result = invoke("tracker", "--http", "off", "--udp", "off")
    assert_one_error_line(result, "nothing to serve")
    result = invoke("tracker", "--store", "postgres://x")
    assert_one_error_line(result, "--store must be")
    result = invoke("tracker", "--private", "--allow", "abcd")
    assert_one_error_line(result, "40 hex digits")
    result = invoke("tracker", "--passkey", "no")
    assert_one_error_line(result, "passkey")
    result = invoke("tracker", "--workers", "2", "--http", "127.0.0.1:0", "--udp", "off")
    assert_one_error_line(result, "fixed ports")
    result = invoke("tracker", "--interval", "60", "--min-interval", "61")
    assert_one_error_line(result, "--min-interval 61 is longer than --interval 60")
    where = f"127.0.0.1:{free_port()}"
    result = invoke("tracker", "--workers", "2", "--http", where, "--admin-token", "t")
    assert_one_error_line(result, "--admin-token with --workers needs --store redis://")
    usage = invoke("tracker", "--http", "nonsense")
    assert usage.exit_code == 2 and "HOST:PORT" in usage.stderr


def test_a_port_in_use_is_a_one_line_error(run: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("tracker", "--http", f"127.0.0.1:{port}", "--udp", "off")
    assert_one_error_line(result, "address already in use")
