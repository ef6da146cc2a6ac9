"""What the HTTP and UDP front ends of one tracker process share.

One peer store, one policy, one access list, one set of counters and one
clock: announces over HTTP and UDP land in the same swarms, and the admin
API's changes apply to both at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bitswarm.aio.tracker_metrics import TrackerMetrics
from bitswarm.core.tracker.access import AccessList
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.stores.base import ImmediateStore, PeerStore


@dataclass(slots=True)
class TrackerContext:
    """The state of one tracker process; ``clock`` is wall time, shared with other processes."""

    store: PeerStore
    policy: TrackerPolicy = field(default_factory=TrackerPolicy)
    access: AccessList = field(default_factory=AccessList)
    metrics: TrackerMetrics = field(default_factory=TrackerMetrics)
    clock: Callable[[], float] = time.time
    _checked: PeerStore | None = field(default=None, init=False, repr=False, compare=False)
    _immediate: ImmediateStore | None = field(default=None, init=False, repr=False, compare=False)

    def immediate_store(self) -> ImmediateStore | None:
        """The store if it answers inline, for servers that then skip tasks; else ``None``.

        Checked again whenever ``store`` is replaced.
        """
        store = self.store
        if store is not self._checked:
            self._checked = store
            self._immediate = store if isinstance(store, ImmediateStore) else None
        return self._immediate
