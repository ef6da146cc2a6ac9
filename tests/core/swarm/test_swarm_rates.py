"""The rate meter: bytes per second over a sliding window of the caller's clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.swarm.rates import RateMeter


def test_steady_rate_is_measured() -> None:
    meter = RateMeter(0.0, window=5.0, resolution=0.5)
    for tick in range(1, 101):
        meter.add(1000, tick * 0.1)  # 10 000 bytes/s
    assert meter.rate(10.0) == pytest.approx(10_000, rel=0.15)
    assert meter.total == 100_000


def test_young_meter_divides_by_its_age() -> None:
    meter = RateMeter(0.0, window=5.0, resolution=0.5)
    meter.add(1_000_000, 1.0)
    assert meter.rate(1.0) == pytest.approx(1_000_000)


def test_rate_decays_to_zero_after_the_window() -> None:
    meter = RateMeter(0.0, window=5.0, resolution=0.5)
    meter.add(5000, 1.0)
    assert meter.rate(3.0) > 0
    assert meter.rate(6.6) == 0.0
    assert meter.total == 5000


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="within the window"):
        RateMeter(0.0, window=1.0, resolution=2.0)
    with pytest.raises(ValueError, match="negative"):
        RateMeter(0.0).add(-1, 0.0)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 3)), max_size=50))
def test_rate_never_exceeds_bytes_over_covered_time(samples: list[tuple[int, float]]) -> None:
    meter = RateMeter(0.0, window=5.0, resolution=0.5)
    now = 0.0
    for size, step in samples:
        now += step
        meter.add(size, now)
    total = sum(size for size, _ in samples)
    assert 0.0 <= meter.rate(now) <= total / 0.5
