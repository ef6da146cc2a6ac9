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
from bitswarm.stores.base import PeerStore


@dataclass(slots=True)
class TrackerContext:
    """The state of one tracker process; ``clock`` is wall time, shared with other processes."""

    store: PeerStore
    policy: TrackerPolicy = field(default_factory=TrackerPolicy)
    access: AccessList = field(default_factory=AccessList)
    metrics: TrackerMetrics = field(default_factory=TrackerMetrics)
    clock: Callable[[], float] = time.time
