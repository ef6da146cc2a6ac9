"""Test-wide fixtures: the network guard (see :mod:`bitswarm_testing`) and programs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bitswarm_testing import _violations, require_program


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
