"""Test-wide fixtures: the network guard (see :mod:`bitswarm_testing`) and programs."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator

import pytest

from bitswarm_testing import _violations, require_program

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # Started in the background by a shell without job control, which ignores
    # SIGINT: the programs the tests start would inherit that and ignore the
    # Ctrl-C the tests send them. A handler is not inherited; the default is.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[None]:
    """Fail the test if it tried to leave loopback, even if it caught the error."""
    start = len(_violations)
    yield
    seen = _violations[start:]
    if seen:
        pytest.fail("; ".join(seen), pytrace=False)


@pytest.fixture(scope="session")
def program() -> Callable[[str], str]:
    """:func:`require_program` as a fixture, for conftest files in sub-folders.

    A sub-folder's ``conftest.py`` cannot ``from conftest import ...``: pytest
    imports every conftest under that one module name.
    """
    return require_program
