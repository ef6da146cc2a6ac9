"""Token buckets under a fake clock: caps, bursts, fairness between sharers, chains."""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.aio.ratelimit import MIN_BURST, Limiter, Limiters, RateLimits, TokenBucket

FRAME = 16 * 1024 + 13


def test_rate_zero_never_waits() -> None:
    bucket = TokenBucket(0)
    assert all(bucket.reserve(10**9, now=0.0) == 0.0 for _ in range(5))


def test_burst_is_free_then_debt_is_paid_at_the_rate() -> None:
    bucket = TokenBucket(1000, burst=500)
    assert bucket.reserve(500, now=0.0) == 0.0
    assert bucket.reserve(250, now=0.0) == pytest.approx(0.25)
    # Half a second later 500 tokens came in: 250 of debt paid, 250 left.
    assert bucket.reserve(250, now=0.5) == 0.0
    assert bucket.reserve(100, now=0.5) == pytest.approx(0.1)


def test_default_burst_holds_at_least_one_block_message() -> None:
    assert TokenBucket(1000).burst == MIN_BURST
    assert TokenBucket(10_000_000).burst == pytest.approx(1_000_000)
    assert TokenBucket(1000).reserve(FRAME, now=0.0) == 0.0


def test_set_rate_clamps_the_balance_and_rejects_negative_rates() -> None:
    bucket = TokenBucket(10_000_000)
    bucket.reserve(0, now=0.0)  # fills the bucket: 1 MB of burst
    bucket.set_rate(1000)
    assert bucket.burst == MIN_BURST
    assert bucket.reserve(MIN_BURST + 1000, now=0.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="negative"):
        bucket.set_rate(-1)
    with pytest.raises(ValueError, match="negative amount"):
        bucket.reserve(-5, now=0.0)


def _simulate(limiter: Limiter, senders: int, frame: int, until: float) -> list[int]:
    """Each sender reserves a frame, waits what it is told, sends, and asks again."""
    sent = [0] * senders
    queue = [(0.0, i, i) for i in range(senders)]  # (time, order of asking, sender)
    asked = senders
    while queue:
        now, _, who = heapq.heappop(queue)
        wait = limiter.reserve(frame, now)
        if now + wait > until:
            continue
        sent[who] += frame
        heapq.heappush(queue, (now + wait, asked, who))
        asked += 1
    return sent


def test_many_senders_share_one_bucket_fairly_within_the_cap() -> None:
    rate, until = 1_000_000, 10.0
    bucket = TokenBucket(rate)
    sent = _simulate(Limiter((bucket,)), senders=7, frame=FRAME, until=until)
    assert sum(sent) <= rate * until + bucket.burst + FRAME
    assert sum(sent) >= rate * until - 7 * FRAME  # the cap is also reached
    assert max(sent) - min(sent) <= FRAME


def test_a_chain_obeys_its_tightest_bucket() -> None:
    torrent, session = RateLimits.of(up=200_000), RateLimits.of(up=1_000_000)
    limiters = Limiters.chain(torrent, session)
    sent = _simulate(limiters.up, senders=3, frame=FRAME, until=5.0)
    assert sum(sent) <= 200_000 * 5.0 + torrent.up.burst + FRAME
    assert sum(sent) >= 200_000 * 5.0 - 3 * FRAME
    assert limiters.down.reserve(10**9, now=0.0) == 0.0  # no down cap anywhere


@given(
    rate=st.integers(1, 10**7),
    steps=st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 2, allow_nan=False)), max_size=60),
)
def test_released_bytes_never_exceed_rate_times_time_plus_burst(
    rate: int, steps: list[tuple[int, float]]
) -> None:
    bucket = TokenBucket(rate)
    now, released = 0.0, []
    for amount, gap in steps:
        now += gap
        released.append((now + bucket.reserve(amount, now), amount))
    for moment, _ in released:
        total = sum(amount for at, amount in released if at <= moment)
        largest = max(amount for _, amount in released)
        assert total <= rate * moment + bucket.burst + largest + 1e-6 * rate


def test_a_chain_is_unlimited_only_while_every_rate_is_zero() -> None:
    session, torrent = TokenBucket(), TokenBucket()
    chain = Limiter((torrent, session))
    assert chain.unlimited and Limiter().unlimited
    session.set_rate(1000)
    assert not chain.unlimited
    session.set_rate(0)
    assert chain.unlimited
