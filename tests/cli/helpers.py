"""Names the command-line tests share: sample content and the error-line check."""

from __future__ import annotations

import random
from collections.abc import Callable

from click.testing import CliRunner, Result

from bitswarm.cli.main import main

Run = Callable[..., Result]
"""``run("info", "x.torrent")``: the ``bitswarm`` command through click's runner."""

ALBUM = {"one.bin": 100_000, "two.bin": 37_000, "notes/three.txt": 5}
"""A small folder: three files, one in a subfolder, lengths that end mid-piece."""


def bitswarm(*args: str) -> Result:
    """Run the ``bitswarm`` command through click's runner, stderr kept apart."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def assert_one_error_line(result: Result, fragment: str) -> None:
    """Exit status 2 and a single ``bitswarm: error:`` line on stderr that says ``fragment``."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("bitswarm: error: "), lines
    assert fragment in lines[0], lines
    assert "Traceback" not in result.output
