"""Typed reading of decoded bencode dictionaries, with faults that name the key.

Bencode (BEP 3) has four types and no schema; a torrent parser spends most of
its lines asking "is this key there, and is it the type the BEP says?". The
:class:`Fields` view answers that once, raising :class:`TorrentError` with the
key path (``info.files[2].length``) so every caller's error is precise for free.
Text is UTF-8 (BEP 52 makes that explicit); bytes that are not UTF-8 are refused
rather than guessed at. Old clients wrote ``name`` and ``path`` in a local code
page with a UTF-8 copy beside them under ``name.utf-8`` and ``path.utf-8``;
:func:`utf8_variant` prefers that copy, as libtorrent does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeAlias

from bitswarm.core.bencode import Value
from bitswarm.core.metainfo.errors import TorrentError

Where: TypeAlias = "str | Callable[[], str]"
"""A key path, or a function that spells it: paths are only spelled out for errors,
which keeps a 10,000-file torrent from building 50,000 strings nobody reads."""


def resolve(where: Where) -> str:
    return where if isinstance(where, str) else where()


def kind(value: Value) -> str:
    """Bencode type name of ``value``, for messages."""
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, bytes):
        return "a byte string"
    if isinstance(value, list):
        return "a list"
    return "a dictionary"


def key_path(where: str, key: bytes | int) -> str:
    """``where`` extended by a dictionary key or a list index."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    name = key.decode("utf-8", "backslashreplace")
    return f"{where}.{name}" if where else name


def as_int(value: Value, where: Where, *, minimum: int | None = None) -> int:
    if not isinstance(value, int):
        raise TorrentError(resolve(where), f"expected an integer, got {kind(value)}")
    if minimum is not None and value < minimum:
        raise TorrentError(resolve(where), f"{value} is below the minimum {minimum}")
    return value


def as_bytes(value: Value, where: Where, *, size: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise TorrentError(resolve(where), f"expected a byte string, got {kind(value)}")
    if size is not None and len(value) != size:
        raise TorrentError(resolve(where), f"expected {size} bytes, got {len(value)}")
    return value


def as_text(value: Value, where: Where) -> str:
    raw = as_bytes(value, where)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TorrentError(resolve(where), f"not valid UTF-8 at byte {exc.start}") from None


def as_list(value: Value, where: Where) -> list[Value]:
    if not isinstance(value, list):
        raise TorrentError(resolve(where), f"expected a list, got {kind(value)}")
    return value


def as_dict(value: Value, where: Where) -> dict[bytes, Value]:
    if not isinstance(value, dict):
        raise TorrentError(resolve(where), f"expected a dictionary, got {kind(value)}")
    return value


def as_text_list(value: Value, where: Where) -> tuple[str, ...]:
    items = as_list(value, where)
    try:  # the common case, in one pass: every item is UTF-8 bytes
        return tuple(item.decode("utf-8") for item in items)  # type: ignore[union-attr]
    except (AttributeError, UnicodeDecodeError):
        spelled = resolve(where)
        return tuple(as_text(item, partial(key_path, spelled, i)) for i, item in enumerate(items))


def utf8_variant(fields: Fields, key: bytes) -> bytes:
    """``key + b".utf-8"`` when the dictionary has it, else ``key``."""
    variant = key + b".utf-8"
    return variant if variant in fields.data else key


class Fields:
    """A dictionary seen through the types the BEPs promise for its keys.

    ``opt_*`` methods return ``None`` for an absent key; the others raise
    ``TorrentError("<where>.<key>", "missing")``.
    """

    __slots__ = ("_where", "data")

    def __init__(self, value: Value, where: Where) -> None:
        self.data = as_dict(value, where)
        self._where = where

    @property
    def where(self) -> str:
        return resolve(self._where)

    def at(self, key: bytes) -> str:
        return key_path(self.where, key)

    def lazy_at(self, key: bytes) -> Callable[[], str]:
        """:meth:`at`, spelled out only when called."""
        return partial(self.at, key)

    def get(self, key: bytes) -> Value:
        value = self.data.get(key)
        if value is None:
            raise TorrentError(self.at(key), "missing")
        return value

    def opt_int(self, key: bytes, *, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        return None if value is None else as_int(value, self.lazy_at(key), minimum=minimum)

    def integer(self, key: bytes, *, minimum: int | None = None) -> int:
        return as_int(self.get(key), self.lazy_at(key), minimum=minimum)

    def opt_bytes(self, key: bytes, *, size: int | None = None) -> bytes | None:
        value = self.data.get(key)
        return None if value is None else as_bytes(value, self.lazy_at(key), size=size)

    def byte_string(self, key: bytes, *, size: int | None = None) -> bytes:
        return as_bytes(self.get(key), self.lazy_at(key), size=size)

    def opt_text(self, key: bytes) -> str | None:
        value = self.data.get(key)
        return None if value is None else as_text(value, self.lazy_at(key))

    def text(self, key: bytes) -> str:
        return as_text(self.get(key), self.lazy_at(key))

    def sequence(self, key: bytes) -> list[Value]:
        return as_list(self.get(key), self.lazy_at(key))

    def child(self, key: bytes) -> Fields:
        return Fields(self.get(key), self.lazy_at(key))
