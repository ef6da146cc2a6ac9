"""Sizes and rates as people write them: ``64MiB``, ``1.5GB``, ``500KiB/s``.

A bare number is bytes (or bytes per second). Decimal prefixes (kB, MB, GB)
are powers of 1000, binary ones (KiB, MiB, GiB) powers of 1024; ``K``, ``M``,
``G`` alone are taken as binary, as torrent tools conventionally do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import click

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes in ``text``; raises ``ValueError`` naming what is wrong."""
    match = _PATTERN.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 64MiB, 1.5GB or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_rate(text: str) -> int:
    """Bytes per second in ``text`` (``2MB/s``, ``500KiB/s``, ``1000``)."""
    lowered = text.lower().strip()
    for suffix in ("/s", "ps"):
        if lowered.endswith(suffix):
            lowered = lowered[: -len(suffix)]
            break
    try:
        return parse_size(lowered)
    except ValueError:
        raise ValueError(
            f"not a rate: {text!r} (try 2MB/s, 500KiB/s or bytes per second)"
        ) from None


def format_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB``: binary prefixes, three significant figures (whole numbers
    from 1000 up: ``1010 KiB``, never ``1.01e+03 KiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            whole = unit == "B" or abs(size) >= 999.5
            return f"{size:.0f} {unit}" if whole else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class _UnitParam(click.ParamType[int]):
    """A click parameter read by one of this module's parsers."""

    parse: Callable[[str], int]

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            return type(self).parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


class SizeParam(_UnitParam):
    """A click parameter that takes a size with units."""

    name = "size"
    parse = staticmethod(parse_size)


class RateParam(_UnitParam):
    """A click parameter that takes a rate with units."""

    name = "rate"
    parse = staticmethod(parse_rate)
