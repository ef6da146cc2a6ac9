"""The BEP 6 allowed-fast set, checked against the BEP's own example results."""

from __future__ import annotations

import pytest

from bitswarm.core.wire.fast import allowed_fast_set

AAAA = bytes.fromhex("aa" * 20)


def test_bep6_example_results() -> None:
    assert allowed_fast_set("80.4.4.200", AAAA, 1313, 7) == [1059, 431, 808, 1217, 287, 376, 1188]
    assert allowed_fast_set("80.4.4.200", AAAA, 1313, 9) == [
        1059, 431, 808, 1217, 287, 376, 1188, 353, 508,
    ]  # fmt: skip


def test_same_slash_24_same_set_and_mapped_addresses_agree() -> None:
    assert allowed_fast_set("80.4.4.1", AAAA, 1313) == allowed_fast_set("80.4.4.200", AAAA, 1313)
    assert allowed_fast_set("::ffff:80.4.4.9", AAAA, 1313) == allowed_fast_set(
        "80.4.4.9", AAAA, 1313
    )
    assert allowed_fast_set("80.4.5.1", AAAA, 1313) != allowed_fast_set("80.4.4.1", AAAA, 1313)


def test_small_torrents_give_every_piece_once() -> None:
    assert sorted(allowed_fast_set("127.0.0.1", AAAA, 3)) == [0, 1, 2]
    assert len(allowed_fast_set("::1", AAAA, 100)) == 10


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="info hash must be 20 bytes, got 3"):
        allowed_fast_set("127.0.0.1", b"abc", 10)
    with pytest.raises(ValueError, match="piece count must be positive"):
        allowed_fast_set("127.0.0.1", AAAA, 0)
