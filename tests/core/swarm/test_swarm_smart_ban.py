"""SmartBan alone: sole senders of failed pieces, and block evidence proven by a passing piece."""

from __future__ import annotations

import random

from bitswarm.core.swarm.smart_ban import SmartBan, Verdict

GOOD = b"g" * 100
BAD = b"b" * 100


def test_sole_sender_is_banned_at_the_second_failure() -> None:
    ban = SmartBan(random.Random(0))
    for block in range(2):
        ban.block_received(1, block, "liar", BAD)
    assert ban.piece_failed(1) == []
    ban.block_received(1, 0, "liar", BAD)
    assert ban.piece_failed(1) == [
        Verdict("liar", "sent every block of 2 pieces that failed the hash")
    ]


def test_shared_failure_waits_for_proof_then_bans_only_the_liar() -> None:
    ban = SmartBan(random.Random(0))
    ban.block_received(3, 0, "honest", GOOD)
    ban.block_received(3, 1, "liar", BAD)
    assert ban.piece_failed(3) == []  # two senders: no one is blamed yet
    assert ban.alert
    ban.block_received(3, 0, "liar", BAD)
    ban.block_received(3, 1, "honest", GOOD)
    assert ban.piece_failed(3) == []
    ban.block_received(3, 0, "liar", GOOD)  # the liar may send good blocks too
    ban.block_received(3, 1, "honest", GOOD)
    assert ban.piece_passed(3) == [
        Verdict("liar", "sent bad data for block 0 of piece 3 (smart ban)")
    ]
    assert ban.piece_passed(3) == []  # evidence is used once


def test_no_evidence_before_the_first_failure() -> None:
    ban = SmartBan(random.Random(0))
    ban.block_received(3, 0, "honest", GOOD)
    ban.block_received(3, 1, "liar", BAD)
    assert ban.piece_failed(3) == []
    ban.block_received(3, 0, "honest", GOOD)
    ban.block_received(3, 1, "honest", GOOD)
    assert ban.piece_passed(3) == []  # the failed attempt's data was never digested


def test_passing_piece_without_history_bans_no_one() -> None:
    ban = SmartBan(random.Random(0))
    ban.block_received(0, 0, "a", GOOD)
    assert ban.piece_passed(0) == []
