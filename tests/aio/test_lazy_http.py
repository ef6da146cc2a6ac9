"""LazyHttp: aiohttp is imported and its client opened only when a request needs it."""

from __future__ import annotations

import json
import subprocess
import sys

from bitswarm.aio.http_client import LazyHttp


def test_a_peer_session_starts_without_aiohttp() -> None:
    program = (
        "import json, sys\n"
        "import bitswarm.cli.download, bitswarm.cli.seed\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp')))"
    )
    out = subprocess.run([sys.executable, "-c", program], check=True, capture_output=True)
    assert json.loads(out.stdout) == []


async def test_the_client_is_made_once_at_first_use_and_closed() -> None:
    http = LazyHttp()
    assert not http.opened
    client = http.client()
    assert http.client() is client and http.opened
    await http.close()
    assert client.closed and not http.opened
    await http.close()  # closing twice is harmless
