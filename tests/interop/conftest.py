"""Interop test plumbing: tests marked ``netns`` run in a network namespace (see netns.py)."""

from __future__ import annotations

import netns
import pytest

from bitswarm_testing import missing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "netns: runs in a network namespace that has only lo (unshare --net)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Outside the namespace, run a ``netns`` test again inside one instead of here."""
    if pyfuncitem.get_closest_marker("netns") is None or netns.inside():
        return None
    reason = netns.unavailable()
    if reason is not None:
        missing(reason)
    timeout = max(float(pyfuncitem.config.getini("timeout") or 300) - 15, 30)
    outcome, output = netns.run_test(pyfuncitem.nodeid, pyfuncitem.config.rootpath, timeout)
    if outcome == "skipped":
        pytest.skip(output)
    if outcome == "failed":
        pytest.fail(f"in the network namespace:\n{output}", pytrace=False)
    return True
