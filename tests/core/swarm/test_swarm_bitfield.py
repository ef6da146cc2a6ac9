"""Bitfield: BEP 3 wire layout, the spare-bits rule, counting and iteration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError, wire_length


def test_wire_layout_is_high_bit_first() -> None:
    field = Bitfield.from_string("1000000001")
    assert field.to_wire() == b"\x80\x40"
    assert list(field) == [0, 9]
    assert field.count() == 2


def test_spare_bits_must_be_zero() -> None:
    with pytest.raises(BitfieldError, match=r"spare bits set after piece 9 \(last byte 0x41\)"):
        Bitfield.from_wire(b"\x80\x41", 10)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(BitfieldError, match="bitfield is 3 bytes, expected 2 for 10 pieces"):
        Bitfield.from_wire(b"\x00\x00\x00", 10)


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 16, 1313])
def test_full_sets_every_piece_and_no_spare_bit(length: int) -> None:
    field = Bitfield.full(length)
    assert field.all() and field.count() == length
    assert list(field) == list(range(length))
    assert list(field.missing()) == []
    assert Bitfield.from_wire(field.to_wire(), length) == field


def test_set_and_clear_report_changes_and_keep_count() -> None:
    field = Bitfield(12)
    assert field.set(11) and not field.set(11)
    assert field.count() == 1 and 11 in field and 10 not in field
    assert field.clear(11) and not field.clear(11)
    assert field.none()
    with pytest.raises(IndexError, match="piece 12 is outside a bitfield of 12 pieces"):
        field.set(12)


@given(st.lists(st.booleans(), max_size=100))
def test_round_trip_and_iteration_agree(bits: list[bool]) -> None:
    text = "".join("1" if b else "0" for b in bits)
    field = Bitfield.from_string(text)
    assert field.to_string() == text
    assert len(field.to_wire()) == wire_length(len(bits))
    assert list(field) == [i for i, b in enumerate(bits) if b]
    assert list(field.missing()) == [i for i, b in enumerate(bits) if not b]
    assert field.count() == sum(bits)
    copy = Bitfield.from_wire(field.to_wire(), len(bits))
    assert copy == field and copy.count() == field.count()
