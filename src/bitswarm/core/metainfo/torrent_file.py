"""Reading ``.torrent`` files, and assembling them from an info dictionary (BEP 3, 12, 19, 52).

A metainfo file is a bencoded dictionary: ``info`` (what is shared, hashed
into the info-hash) and fields around it that can change without changing the
torrent's identity: ``announce`` and the tiers of ``announce-list`` (BEP 12,
which wins when present), ``url-list`` web seeds (BEP 19, one string or a
list), ``comment``, ``created by``, ``creation date`` and, for v2, ``piece
layers`` (BEP 52). Keys bitswarm does not know are kept in ``Torrent.extra``.

The document is decoded leniently (real files sometimes have unsorted keys)
with :func:`~bitswarm.core.bencode.decode_with_spans`, and the info-hashes are
taken over the info dictionary's bytes exactly as they appear in the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from functools import partial
from types import EllipsisType

from bitswarm.core.bencode import Encodable, Value, decode, decode_with_spans, encode
from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.fields import Fields, as_dict, as_text_list, key_path
from bitswarm.core.metainfo.files_v2 import check_piece_layers
from bitswarm.core.metainfo.info import parse_info
from bitswarm.core.metainfo.model import Torrent

_KNOWN = frozenset(
    [
        b"info",
        b"announce",
        b"announce-list",
        b"url-list",
        b"comment",
        b"created by",
        b"creation date",
        b"piece layers",
    ]
)


def parse_torrent(data: bytes | bytearray | memoryview) -> Torrent:
    """Parse and validate a ``.torrent`` file.

    Raises :class:`~bitswarm.core.bencode.BencodeError` when the bytes are not
    bencode and :class:`TorrentError` when a field breaks the BEPs.
    """
    raw = bytes(data)
    top, spans = decode_with_spans(raw, strict=False)
    if b"info" not in spans:
        raise TorrentError("info", "missing")
    start, end = spans[b"info"]
    return _assemble(top, raw[start:end], layers_required=True)


def build_torrent(
    info: bytes | Mapping[bytes | str, Encodable],
    *,
    trackers: Iterable[Iterable[str]] = (),
    web_seeds: Iterable[str] = (),
    comment: str | None = None,
    created_by: str | None = None,
    creation_date: int | None = None,
    piece_layers: Mapping[bytes, bytes] | None = None,
    extra: Mapping[bytes, Value] | None = None,
) -> Torrent:
    """A validated torrent from an info dictionary and the fields around it.

    ``info`` is either the dictionary (encoded canonically here) or its exact
    bytes, such as metadata fetched from peers (BEP 9). ``piece_layers`` maps
    pieces roots to their layers; when given, every v2 file longer than one
    piece needs its layer, and when ``None`` the torrent may lack them (they
    will come from peers). Raises :class:`TorrentError` like ``parse_torrent``.
    """
    info_bytes = info if isinstance(info, bytes) else encode(info)
    top: dict[bytes, Value] = dict(extra or {})
    top[b"info"] = decode(info_bytes, strict=False)
    tiers = [[url.encode() for url in tier] for tier in trackers]
    if tiers:
        top[b"announce-list"] = tiers  # type: ignore[assignment]
    seeds: list[Value] = [url.encode() for url in web_seeds]
    if seeds:
        top[b"url-list"] = seeds
    for key, text in ((b"comment", comment), (b"created by", created_by)):
        if text is not None:
            top[key] = text.encode()
    if creation_date is not None:
        top[b"creation date"] = creation_date
    if piece_layers is not None:
        top[b"piece layers"] = dict(piece_layers)
    return _assemble(top, info_bytes, layers_required=piece_layers is not None)


def rehash(
    torrent: Torrent, *, private: bool | None = None, source: str | EllipsisType | None = ...
) -> Torrent:
    """A **new** torrent, with new info-hashes, whose ``private`` flag or ``source`` changed.

    Both live in the info dictionary (BEP 27), so changing either changes the
    torrent's identity: peers and trackers see a different swarm. ``private=None``
    and ``source=...`` keep the current value; ``source=None`` removes it. The
    info dictionary is re-encoded canonically; everything else is kept.
    """
    info = as_dict(decode(torrent.info_bytes, strict=False), "info")
    if private is not None:
        if private:
            info[b"private"] = 1
        else:
            info.pop(b"private", None)
    if source is None:
        info.pop(b"source", None)
    elif isinstance(source, str):
        info[b"source"] = source.encode()
    return build_torrent(
        encode(info),
        trackers=torrent.trackers,
        web_seeds=torrent.web_seeds,
        comment=torrent.comment,
        created_by=torrent.created_by,
        creation_date=torrent.creation_date,
        piece_layers=torrent.piece_layers or None,
        extra=torrent.extra,
    )


def _assemble(top: dict[bytes, Value], info_bytes: bytes, *, layers_required: bool) -> Torrent:
    outer = Fields(top, "")
    torrent = parse_info(outer.get(b"info"), info_bytes)
    layers: Mapping[bytes, bytes] = {}
    if torrent.meta_version is not None:
        layers = check_piece_layers(
            top.get(b"piece layers"), torrent.files, torrent.piece_length, required=layers_required
        )
    elif b"piece layers" in top:
        raise TorrentError("piece layers", "present in a torrent without 'meta version' 2")
    return dataclasses.replace(
        torrent,
        piece_layers=layers,
        trackers=_trackers(outer),
        web_seeds=_web_seeds(outer),
        comment=outer.opt_text(b"comment"),
        created_by=outer.opt_text(b"created by"),
        creation_date=outer.opt_int(b"creation date"),
        extra={key: value for key, value in top.items() if key not in _KNOWN},
    )


def _trackers(outer: Fields) -> tuple[tuple[str, ...], ...]:
    """BEP 12 tiers; ``announce`` alone is a single tier, and empty URLs are dropped."""
    if b"announce-list" in outer.data:
        where = outer.at(b"announce-list")
        tiers = (
            tuple(url for url in as_text_list(tier, partial(key_path, where, i)) if url)
            for i, tier in enumerate(outer.sequence(b"announce-list"))
        )
        found = tuple(tier for tier in tiers if tier)
        if found:
            return found
    announce = outer.opt_text(b"announce")
    return ((announce,),) if announce else ()


def _web_seeds(outer: Fields) -> tuple[str, ...]:
    """BEP 19 ``url-list``: one URL as a string, or a list of them."""
    value = outer.data.get(b"url-list")
    if value is None:
        return ()
    if isinstance(value, bytes):
        url = outer.text(b"url-list")
        return (url,) if url else ()
    return tuple(url for url in as_text_list(value, outer.at(b"url-list")) if url)
