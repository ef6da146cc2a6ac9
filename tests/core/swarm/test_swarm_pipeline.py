"""The request pipeline alone: depth from rate, slow start, time-outs, snubbing, answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef
from bitswarm.core.swarm.pipeline import Answer, PipelineConfig, RequestPipeline

CONFIG = PipelineConfig()


def requests(count: int, start: int = 0) -> list[BlockRef]:
    return [BlockRef(start + n, 0, BLOCK_SIZE) for n in range(count)]


@pytest.mark.parametrize(
    ("rate", "depth"),
    [
        (0.0, CONFIG.min_depth),
        (100 * BLOCK_SIZE / CONFIG.target_latency, 100),
        (1e12, CONFIG.max_depth),
    ],
)
def test_depth_follows_rate_within_bounds(rate: float, depth: int) -> None:
    pipeline = RequestPipeline(CONFIG)
    pipeline.slow_start = False
    assert pipeline.depth(rate) == depth


def test_slow_start_grows_one_per_block_while_the_queue_is_full() -> None:
    pipeline = RequestPipeline(CONFIG)
    for request in requests(pipeline.room(0.0, 0.0)):
        pipeline.sent(request, 0.0)
    assert len(pipeline) == CONFIG.min_depth
    for request in requests(CONFIG.min_depth):
        assert pipeline.answered(request, 0.1) is Answer.EXPECTED
    assert pipeline.depth(0.0) == CONFIG.min_depth + 1  # full only when the first came back
    assert pipeline.slow_start


def test_slow_start_ends_when_the_round_trip_exceeds_the_target() -> None:
    pipeline = RequestPipeline(CONFIG)
    (request,) = requests(1)
    pipeline.sent(request, 0.0)
    pipeline.answered(request, CONFIG.target_latency + 0.1)
    assert not pipeline.slow_start
    assert pipeline.srtt == pytest.approx(CONFIG.target_latency + 0.1)


def test_oldest_request_times_out_and_snubs() -> None:
    pipeline = RequestPipeline(CONFIG)
    first, second = requests(2)
    pipeline.sent(first, 0.0)
    pipeline.sent(second, 5.0)
    assert pipeline.deadline() == CONFIG.timeout_initial
    assert pipeline.expire(CONFIG.timeout_initial - 0.1) == []
    assert pipeline.expire(CONFIG.timeout_initial) == [first]
    assert pipeline.snubbed
    assert pipeline.depth(1e9) == 1
    assert pipeline.room(1e9, 21.0) == 0  # the second is still out
    assert pipeline.answered(first, 21.0) is Answer.LATE
    assert pipeline.answered(second, 21.0) is Answer.EXPECTED
    assert not pipeline.snubbed


def test_timeout_follows_round_trip_within_bounds() -> None:
    pipeline = RequestPipeline(CONFIG)
    assert pipeline.timeout() == CONFIG.timeout_initial
    pipeline.srtt = 0.01
    assert pipeline.timeout() == CONFIG.timeout_min
    pipeline.srtt = 5.0
    assert pipeline.timeout() == 20.0
    pipeline.srtt = 100.0
    assert pipeline.timeout() == CONFIG.timeout_max


def test_unrequested_answers_are_told_apart_from_late_ones() -> None:
    pipeline = RequestPipeline(CONFIG)
    a, b, c = requests(3)
    pipeline.sent(a, 0.0)
    pipeline.sent(b, 0.0)
    assert pipeline.cancel(a)
    assert not pipeline.cancel(c)
    assert pipeline.rejected(a, 1.0, choked=True) is Answer.LATE
    assert pipeline.rejected(a, 1.0, choked=True) is Answer.UNREQUESTED  # one answer only
    assert pipeline.answered(c, 1.0) is Answer.UNREQUESTED
    assert pipeline.drop_all() == [b]
    assert pipeline.answered(b, 1.0) is Answer.LATE


def test_a_block_asked_for_and_cancelled_twice_may_be_answered_twice() -> None:
    """Endgame asks for a block, cancels it, asks again and cancels again before the
    peer's first answer arrives: both answers are late, a third is the peer's fault."""

    pipeline = RequestPipeline(CONFIG)
    (request,) = requests(1)
    for _ in range(2):
        pipeline.sent(request, 0.0)
        assert pipeline.cancel(request)
    assert pipeline.rejected(request, 1.0, choked=False) is Answer.LATE
    assert pipeline.rejected(request, 1.0, choked=False) is Answer.LATE
    assert pipeline.rejected(request, 1.0, choked=False) is Answer.UNREQUESTED


def test_reject_while_unchoked_backs_off() -> None:
    pipeline = RequestPipeline(CONFIG)
    (request,) = requests(1)
    pipeline.sent(request, 0.0)
    assert pipeline.rejected(request, 1.0, choked=False) is Answer.EXPECTED
    assert pipeline.room(0.0, 1.5) == 0
    assert pipeline.deadline() == 1.0 + CONFIG.reject_backoff
    assert pipeline.expire(2.0) == []
    assert pipeline.room(0.0, 2.0) == CONFIG.min_depth
    assert pipeline.deadline() is None


def test_cancelled_set_is_bounded() -> None:
    config = PipelineConfig(max_depth=8)
    pipeline = RequestPipeline(config)
    sent = requests(20)
    for request in sent:
        pipeline.sent(request, 0.0)
        pipeline.cancel(request)
    assert pipeline.answered(sent[0], 1.0) is Answer.UNREQUESTED  # forgotten
    assert pipeline.answered(sent[-1], 1.0) is Answer.LATE


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["send", "block", "reject", "cancel", "expire", "choke"]),
            st.integers(0, 7),
            st.floats(0, 30),
        ),
        max_size=80,
    )
)
def test_every_request_is_answered_once_and_depth_stays_in_bounds(
    script: list[tuple[str, int, float]],
) -> None:
    pipeline = RequestPipeline(CONFIG)
    now = 0.0
    waiting: set[BlockRef] = set()
    """Requests sent and neither answered nor given up."""
    for op, index, step in script:
        now += step
        request = BlockRef(index, 0, BLOCK_SIZE)
        if op == "send" and request not in pipeline:
            pipeline.sent(request, now)
            waiting.add(request)
        elif op == "block":
            answer = pipeline.answered(request, now)
            assert (answer is Answer.EXPECTED) == (request in waiting)
            waiting.discard(request)
        elif op == "reject":
            answer = pipeline.rejected(request, now, choked=index % 2 == 0)
            assert (answer is Answer.EXPECTED) == (request in waiting)
            waiting.discard(request)
        elif op == "cancel":
            assert pipeline.cancel(request) == (request in waiting)
            waiting.discard(request)
        elif op == "expire":
            late = pipeline.expire(now)
            assert set(late) <= waiting
            waiting -= set(late)
            deadline = pipeline.deadline()
            assert deadline is None or deadline > now
        else:
            assert set(pipeline.drop_all()) == waiting
            waiting.clear()
        assert set(pipeline.outstanding) == waiting
        assert 1 <= pipeline.depth(step * 1e6) <= CONFIG.max_depth
