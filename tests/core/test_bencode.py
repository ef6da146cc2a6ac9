"""Bencode (BEP 3): every decoding and encoding rule, held against both implementations.

Each rule runs against the pure-Python reference and the C accelerator. The C
cases skip when the accelerator was not built, except under
``BITSWARM_REQUIRE_TOOLS`` (CI), where a missing accelerator fails them.
"""

from __future__ import annotations

import itertools
import resource
import sys
from collections import OrderedDict
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitswarm.core import bencode
from bitswarm.core.bencode import BencodeError, Codec, Value
from bitswarm_testing import missing


def _require_accelerator() -> Codec:
    if bencode.ACCELERATED is None:
        missing(
            "the C accelerator bitswarm.core._bencode is not built",
            "python setup.py build_ext --inplace",
        )
    return bencode.ACCELERATED


@pytest.fixture(params=["python", "c"])
def codec(request: pytest.FixtureRequest) -> Codec:
    return bencode.PYTHON if request.param == "python" else _require_accelerator()


def test_active_implementation_is_the_accelerator_when_built() -> None:
    expected = "python" if bencode.ACCELERATED is None else "c"
    assert expected == bencode.IMPLEMENTATION
    assert bencode.decode == bencode.ACTIVE.decode


# --- decoding: values ---------------------------------------------------------------------

VALID = [
    (b"i0e", 0),
    (b"i-1e", -1),
    (b"i42e", 42),
    (b"i" + b"9" * 128 + b"e", int("9" * 128)),
    (b"i-" + b"9" * 128 + b"e", -int("9" * 128)),
    (b"i9223372036854775808e", 2**63),
    (b"i-9223372036854775809e", -(2**63) - 1),
    (b"0:", b""),
    (b"4:spam", b"spam"),
    (b"3:\x00\xffe", b"\x00\xffe"),
    (b"le", []),
    (b"li1e4:spamlee", [1, b"spam", []]),
    (b"de", {}),
    (b"d1:ai1e1:bli2eee", {b"a": 1, b"b": [2]}),
    (b"d0:i0e1:\x00i1e1:\xffi2ee", {b"": 0, b"\x00": 1, b"\xff": 2}),
]


@pytest.mark.parametrize(("data", "value"), VALID)
def test_decodes_canonical_values(codec: Codec, data: bytes, value: Value) -> None:
    assert codec.decode(data) == value
    assert codec.decode(data, strict=False) == value
    assert codec.encode(value) == data


def test_accepts_bytearray_and_memoryview(codec: Codec) -> None:
    assert codec.decode(bytearray(b"4:spam")) == b"spam"
    assert codec.decode(memoryview(b"xx4:spam")[2:]) == b"spam"


def test_refuses_text_input(codec: Codec) -> None:
    with pytest.raises(TypeError, match="must be bytes, not str"):
        codec.decode("4:spam")  # type: ignore[arg-type]


def test_decoded_types_are_exact(codec: Codec) -> None:
    value = codec.decode(b"d1:ai1e1:bl1:cee")
    assert type(value) is dict
    assert all(type(key) is bytes for key in value)
    assert type(value[b"a"]) is int
    assert type(value[b"b"]) is list
    assert type(value[b"b"][0]) is bytes


# --- decoding: every rule, with the exact reason and offset -------------------------------

ERRORS = [
    # integers
    (b"i03e", "non-canonical integer b'03'", 0),
    (b"i00e", "non-canonical integer b'00'", 0),
    (b"i-0e", "non-canonical integer b'-0'", 0),
    (b"i-03e", "non-canonical integer b'-03'", 0),
    (b"ie", "malformed integer b''", 0),
    (b"i-e", "malformed integer b'-'", 0),
    (b"i--1e", "malformed integer b'--1'", 0),
    (b"i1-2e", "malformed integer b'1-2'", 0),
    (b"i+1e", "malformed integer b'+1'", 0),
    (b"i 1e", "malformed integer b' 1'", 0),
    (b"i1x", "malformed integer b'1x'", 0),
    (b"i\xd9\xa1e", "malformed integer b'\\xd9\\xa1'", 0),
    (b"i" + b"x" * 50 + b"e", f"malformed integer {b'x' * 40!r}", 0),
    (b"i", "truncated integer", 0),
    (b"i-", "truncated integer", 0),
    (b"i12", "truncated integer", 0),
    (b"li-12", "truncated integer", 1),
    (b"i" + b"9" * 129 + b"e", "integer longer than 128 digits", 0),
    (b"i-" + b"9" * 129 + b"e", "integer longer than 128 digits", 0),
    (b"i" + b"9" * 129, "integer longer than 128 digits", 0),
    (b"i" + b"9" * 500, "integer longer than 128 digits", 0),
    (b"i" + b"9" * 500 + b"e", "integer longer than 128 digits", 0),
    # strings
    (b"03:abc", "string length with a leading zero", 0),
    (b"00:", "string length with a leading zero", 0),
    (b"1x:a", "malformed string length", 0),
    (b"1", "truncated string length", 0),
    (b"12", "truncated string length", 0),
    (b"l123", "truncated string length", 1),
    (b"12a", "malformed string length", 0),
    (b"9" * 21 + b":", "string length longer than 20 digits", 0),
    (b"5:abc", "truncated string: length 5 but 3 bytes left", 0),
    (b"1:", "truncated string: length 1 but 0 bytes left", 0),
    (b"l4:spam9:x", "truncated string: length 9 but 1 bytes left", 7),
    (
        b"18446744073709551616:x",
        "truncated string: length 18446744073709551616 but 1 bytes left",
        0,
    ),
    (b"99999999999999999999:", "truncated string: length 99999999999999999999 but 0 bytes left", 0),
    # structure
    (b"", "truncated input, expected a value", 0),
    (b"x", "unexpected byte b'x', expected a value", 0),
    (b"e", "unexpected byte b'e', expected a value", 0),
    (b"l\x00e", "unexpected byte b'\\x00', expected a value", 1),
    (b"-1", "unexpected byte b'-', expected a value", 0),
    (b"i1ei2e", "3 bytes of trailing data", 3),
    (b"lee", "1 bytes of trailing data", 2),
    (b"4:spam\n", "1 bytes of trailing data", 6),
    (b"l", "truncated list", 1),
    (b"li1e", "truncated list", 4),
    (b"d", "truncated dictionary", 1),
    (b"d1:ai1e", "truncated dictionary", 7),
    (b"d1:a", "truncated input, expected a value", 4),
    (b"d1:", "truncated string: length 1 but 0 bytes left", 1),
    # dictionary keys, rejected in both modes
    (b"di1ei2ee", "dictionary key is not a byte string", 1),
    (b"dlei1ee", "dictionary key is not a byte string", 1),
    (b"d1:ai1ex", "dictionary key is not a byte string", 7),
    (b"d1:ai1e1:ai2ee", "duplicate dictionary key b'a'", 7),
    (b"d0:i1e0:i2ee", "duplicate dictionary key b''", 6),
]


@pytest.mark.parametrize(("data", "reason", "offset"), ERRORS)
@pytest.mark.parametrize("strict", [True, False])
def test_rejects_with_reason_and_offset(
    codec: Codec, data: bytes, reason: str, offset: int, strict: bool
) -> None:
    with pytest.raises(BencodeError) as caught:
        codec.decode(data, strict=strict)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)
    assert str(caught.value) == f"bencode: {reason} at byte {offset}"
    assert isinstance(caught.value, ValueError)


def test_absurd_string_length_does_not_allocate(codec: Codec) -> None:
    # 2**62 bytes could never be allocated: the length must be refused before slicing.
    data = b"%d:" % 2**62 + b"x" * 10
    with pytest.raises(BencodeError, match=f"length {2**62} but 10 bytes left"):
        codec.decode(data)


# --- key order: strict against lenient -----------------------------------------------------

UNSORTED = [
    # (document, reason and offset in strict mode, lenient value or lenient error)
    (b"d1:bi1e1:ai2ee", ("dictionary key b'a' out of order", 7), {b"b": 1, b"a": 2}),
    (b"d2:aai1e1:ai2ee", ("dictionary key b'a' out of order", 8), {b"aa": 1, b"a": 2}),
    (b"d1:\xffi1e1:zi2ee", ("dictionary key b'z' out of order", 7), {b"\xff": 1, b"z": 2}),
    (
        b"d1:bi1e1:ai2e1:bi3ee",
        ("dictionary key b'a' out of order", 7),
        ("duplicate dictionary key b'b'", 13),
    ),
    (
        b"d1:ai1e1:ci2e1:ai3ee",
        ("duplicate dictionary key b'a'", 13),
        ("duplicate dictionary key b'a'", 13),
    ),
    (
        b"d1:ci1e1:ai2e1:bi3e1:ci4ee",
        ("dictionary key b'a' out of order", 7),
        ("duplicate dictionary key b'c'", 19),
    ),
]


@pytest.mark.parametrize(("data", "strict_error", "lenient"), UNSORTED)
def test_unsorted_keys_strict_and_lenient(
    codec: Codec,
    data: bytes,
    strict_error: tuple[str, int],
    lenient: dict[bytes, Value] | tuple[str, int],
) -> None:
    with pytest.raises(BencodeError) as caught:
        codec.decode(data)
    assert (caught.value.reason, caught.value.offset) == strict_error
    if isinstance(lenient, dict):
        value = codec.decode(data, strict=False)
        assert isinstance(value, dict)
        assert value == lenient
        assert list(value) == list(lenient)  # document order
    else:
        with pytest.raises(BencodeError) as caught:
            codec.decode(data, strict=False)
        assert (caught.value.reason, caught.value.offset) == lenient


def test_long_keys_are_cut_in_the_message(codec: Codec) -> None:
    key = b"k" * 100
    data = b"d100:" + key + b"i1e100:" + key + b"i2ee"
    with pytest.raises(BencodeError) as caught:
        codec.decode(data)
    assert caught.value.reason == f"duplicate dictionary key {key[:40]!r}"
    assert caught.value.offset == 108


# --- nesting --------------------------------------------------------------------------------


def test_nesting_up_to_the_bound_is_accepted(codec: Codec) -> None:
    depth = bencode.MAX_DEPTH
    value = codec.decode(b"l" * depth + b"e" * depth)
    for _ in range(depth - 1):
        assert isinstance(value, list)
        value = value[0]
    assert value == []


@pytest.mark.parametrize("opener", [b"l", b"d1:a"])
def test_nesting_deeper_than_the_bound_is_refused(codec: Codec, opener: bytes) -> None:
    depth = bencode.MAX_DEPTH + 1
    with pytest.raises(BencodeError) as caught:
        codec.decode(opener * depth + b"e" * depth)
    expected_offset = len(opener) * bencode.MAX_DEPTH
    assert (caught.value.reason, caught.value.offset) == (
        "nesting deeper than 200",
        expected_offset,
    )


def test_hostile_nesting_raises_no_recursion_error(codec: Codec) -> None:
    with pytest.raises(BencodeError, match="nesting deeper than 200 at byte 200"):
        codec.decode(b"l" * 1_000_000)


@pytest.mark.parametrize(("max_depth", "data", "offset"), [(0, b"le", 0), (1, b"lle", 1)])
def test_max_depth_is_the_callers_choice(
    codec: Codec, max_depth: int, data: bytes, offset: int
) -> None:
    assert codec.decode(b"i1e", max_depth=0) == 1
    with pytest.raises(BencodeError) as caught:
        codec.decode(data, max_depth=max_depth)
    assert (caught.value.reason, caught.value.offset) == (
        f"nesting deeper than {max_depth}",
        offset,
    )


@pytest.mark.parametrize("max_depth", [-1, bencode.DEPTH_CEILING + 1])
def test_max_depth_out_of_range_is_refused(codec: Codec, max_depth: int) -> None:
    with pytest.raises(ValueError, match="max_depth must be between 0 and 400"):
        codec.decode(b"le", max_depth=max_depth)


def test_depth_ceiling_is_reachable(codec: Codec) -> None:
    depth = bencode.DEPTH_CEILING
    assert codec.decode(b"l" * depth + b"e" * depth, max_depth=depth) is not None


# --- spans -----------------------------------------------------------------------------------

TORRENT = (
    b"d8:announce20:http://127.0.0.1/ann4:infod6:lengthi5e4:name3:abc"
    b"12:piece lengthi16384e6:pieces20:" + bytes(range(20)) + b"ee"
)


def test_spans_cover_each_top_level_value(codec: Codec) -> None:
    value, spans = codec.decode_with_spans(TORRENT)
    assert set(spans) == {b"announce", b"info"}
    for key, (start, end) in spans.items():
        assert codec.decode(TORRENT[start:end]) == value[key]
    assert TORRENT[spans[b"info"][0] : spans[b"info"][1]].startswith(b"d6:length")
    assert spans[b"info"][1] == len(TORRENT) - 1


def test_span_of_a_lenient_document_is_the_original_bytes(codec: Codec) -> None:
    info = b"d4:name3:abc6:lengthi5ee"  # unsorted: re-encoding would reorder it
    data = b"d4:info" + info + b"e"
    value, spans = codec.decode_with_spans(data, strict=False)
    start, end = spans[b"info"]
    assert data[start:end] == info
    assert codec.encode(value[b"info"]) != info
    assert codec.decode(data[start:end], strict=False) == value[b"info"]
    with pytest.raises(BencodeError, match="dictionary key b'length' out of order at byte 19"):
        codec.decode_with_spans(data)


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"", "truncated input, expected a dictionary", 0),
        (b"li1ee", "expected a dictionary", 0),
        (b"i1e", "expected a dictionary", 0),
        (b"d1:ai1eex", "1 bytes of trailing data", 8),
        (b"d1:ai1e", "truncated dictionary", 7),
        (b"d1:bi1e1:ai2ee", "dictionary key b'a' out of order", 7),
    ],
)
def test_spans_reject_what_decode_rejects(
    codec: Codec, data: bytes, reason: str, offset: int
) -> None:
    with pytest.raises(BencodeError) as caught:
        codec.decode_with_spans(data)
    assert (caught.value.reason, caught.value.offset) == (reason, offset)


# --- encoding --------------------------------------------------------------------------------


def test_encode_sorts_keys_as_raw_bytes(codec: Codec) -> None:
    value = {b"b": 1, b"a": 2, b"\xff": 3, b"Z": 4, b"": 5, b"aa": 6}
    assert codec.encode(value) == b"d0:i5e1:Zi4e1:ai2e2:aai6e1:bi1e1:\xffi3ee"


def test_encode_text_as_utf8(codec: Codec) -> None:
    assert codec.encode("é") == b"2:\xc3\xa9"
    assert codec.encode({"ключ": "значение"}) == "d8:ключ16:значениеe".encode()
    with pytest.raises(UnicodeEncodeError):
        codec.encode("\ud800")


def test_encode_accepts_buffers_tuples_and_mappings(codec: Codec) -> None:
    assert codec.encode(bytearray(b"ab")) == b"2:ab"
    assert codec.encode(memoryview(b"xabc")[1:]) == b"3:abc"
    assert codec.encode((1, (b"x",))) == b"li1el1:xee"
    assert codec.encode(OrderedDict([("b", 1), ("a", 2)])) == b"d1:ai2e1:bi1ee"
    assert codec.encode(MappingProxyType({b"k": []})) == b"d1:klee"


def test_encode_integers(codec: Codec) -> None:
    assert codec.encode(-(2**100)) == b"i-%de" % 2**100
    assert codec.encode(0) == b"i0e"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "bencode has no booleans; use 0 or 1"),
        ([False], "bencode has no booleans; use 0 or 1"),
        (1.5, "cannot bencode float"),
        (None, "cannot bencode NoneType"),
        ({b"a": None}, "cannot bencode NoneType"),
        ({1, 2}, "cannot bencode set"),
        ({1: b"x"}, "bencode dictionary keys must be bytes or str, not <class 'int'>"),
        ({memoryview(b"k"): 1}, "dictionary keys must be bytes or str, not <class 'memoryview'>"),
    ],
)
def test_encode_rejects_what_has_no_bencode_form(codec: Codec, value: object, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        codec.encode(value)  # type: ignore[arg-type]
    assert str(caught.value).endswith(message)


def test_encode_rejects_colliding_keys(codec: Codec) -> None:
    with pytest.raises(ValueError, match=r"^bencode: duplicate dictionary key b'a'$"):
        codec.encode({"a": 1, b"a": 2})


def test_encode_rejects_deep_and_cyclic_values(codec: Codec) -> None:
    deep: list[Value] = []
    for _ in range(bencode.MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ValueError, match=r"^bencode: nesting deeper than 200$"):
        codec.encode(deep)
    assert codec.encode(deep[0]) == b"l" * 200 + b"e" * 200
    assert codec.decode(codec.encode(deep[0])) == deep[0]
    cycle: list[Value] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="nesting deeper than 200"):
        codec.encode(cycle)


# --- properties ------------------------------------------------------------------------------

values: st.SearchStrategy[Value] = st.recursive(
    st.integers() | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.binary(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


@given(values)
def test_round_trip(value: Value) -> None:
    for codec in _codecs():
        data = codec.encode(value)
        assert codec.decode(data) == value
        assert codec.encode(codec.decode(data)) == data


def _codecs() -> list[Codec]:
    return [c for c in (bencode.PYTHON, bencode.ACCELERATED) if c is not None]


MUTATIONS = st.sampled_from(["flip", "insert", "delete", "truncate", "replace"])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid encoding with a few bytes flipped, inserted, deleted or cut off."""
    data = bytearray(bencode.PYTHON.encode(draw(values)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(MUTATIONS)
        if kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=3) | st.sampled_from([b"e", b"i", b"l"])
            )
        elif at < len(data) and kind == "delete":
            del data[at]
        elif at < len(data) and kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif at < len(data):
            data[at] = draw(st.sampled_from(b"0123456789:-eild"))
    return bytes(data)


def _outcome(codec: Codec, data: bytes, strict: bool, spans: bool) -> object:
    """What decoding gives: the value, or the error's reason and offset; nothing else escapes."""
    try:
        if spans:
            return codec.decode_with_spans(data, strict=strict)
        return codec.decode(data, strict=strict)
    except BencodeError as error:
        return (error.reason, error.offset)


hostile = st.binary(max_size=200) | mutated()


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(hostile, st.booleans())
def test_hostile_input_raises_only_bencode_error(data: bytes, strict: bool) -> None:
    """Any other exception (IndexError, RecursionError, MemoryError...) fails the test."""
    for codec in _codecs():
        try:
            codec.decode(data, strict=strict)
        except BencodeError as error:
            assert 0 <= error.offset <= len(data)
        try:
            value, spans = codec.decode_with_spans(data, strict=strict)
        except BencodeError as error:
            assert 0 <= error.offset <= len(data)
        else:
            assert spans.keys() == value.keys()
            for key, (start, end) in spans.items():
                assert codec.decode(data[start:end], strict=strict) == value[key]


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(hostile, st.booleans(), st.booleans())
def test_c_and_python_agree_on_every_input(data: bytes, strict: bool, spans: bool) -> None:
    accelerated = _require_accelerator()
    expected = _outcome(bencode.PYTHON, data, strict, spans)
    assert _outcome(accelerated, data, strict, spans) == expected


encodables: st.SearchStrategy[object] = st.recursive(
    st.integers()
    | st.binary(max_size=10)
    | st.text(max_size=5)
    | st.builds(bytearray, st.binary(max_size=5))
    | st.sampled_from([None, True, 1.5]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.binary(max_size=3) | st.text(max_size=3), children, max_size=4)
        | st.dictionaries(st.integers(0, 3), children, max_size=2)
    ),
    max_leaves=20,
)


def _encoded(codec: Codec, value: object) -> object:
    try:
        return codec.encode(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        return (type(error), str(error))


@settings(max_examples=1000)
@given(encodables)
def test_c_and_python_agree_on_encoding(value: object) -> None:
    accelerated = _require_accelerator()
    assert _encoded(accelerated, value) == _encoded(bencode.PYTHON, value)


# --- the accelerator's memory discipline -------------------------------------------------------

# Multi-byte keys and strings: one-byte bytes objects are shared singletons, a leak of which
# would not show in the count of allocated blocks.
LEAK_PROBES = [
    b"d3:onei1e3:twol4:spami-3eee",
    b"d3:twoi1e3:onei2ee",
    b"d3:onei1e3:onei2ee",
    b"li1ei2e" + b"i" + b"9" * 100,
    b"ld3:oned3:twol2:xyi" + b"7" * 30 + b"e3:abce",
    b"l" * 300,
    b"i-0e",
    b"99:xy",
    b"l3:abce3:xyz",
]


def test_accelerator_does_not_leak() -> None:
    accelerated = _require_accelerator()

    def churn(rounds: int) -> None:
        for _ in range(rounds):
            for probe in LEAK_PROBES:
                for strict, spans in itertools.product((False, True), repeat=2):
                    data = b"d3:key" + probe + b"e" if spans else probe
                    _outcome(accelerated, data, strict, spans)
            _encoded(accelerated, {"one": [10**30, b"xy", ("yz", {b"zz": -5})], b"two": 2})
            _encoded(accelerated, {b"aa": 1, "aa": 2})
            _encoded(accelerated, {"aa": 1, 2: 2})
            _encoded(accelerated, [1, "é" * 3, None])
            _encoded(accelerated, [b"x" * 4000])

    churn(1000)
    blocks, peak_kib = sys.getallocatedblocks(), _peak_rss_kib()
    churn(5000)  # 100,000 decodes of bad input among the rest
    assert sys.getallocatedblocks() - blocks < 1000  # objects and small buffers
    assert _peak_rss_kib() - peak_kib < 16 * 1024  # large buffers


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
