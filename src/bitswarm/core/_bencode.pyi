"""The C accelerator of :mod:`bitswarm.core.bencode` (same semantics, same errors)."""

from bitswarm.core.bencode import Span, Value

def configure(error: type[ValueError], mapping: type) -> None: ...
def decode(
    data: bytes,
    strict: bool,
    max_depth: int,
    max_int_digits: int,
    spans: dict[bytes, Span] | None,
) -> Value: ...
def encode(value: object, max_depth: int) -> bytes: ...
