"""Who may use a private tracker: passkeys and an info-hash allow-list.

An open tracker (the default) serves any torrent to anyone. A private one
serves only torrents on its allow-list, and only to clients whose announce
URL carries a registered passkey (``/<passkey>/announce``, whose scrape URL is
``/<passkey>/scrape`` by BEP 48's rule, or ``/announce/<passkey>``; over HTTP,
or as the path in BEP 41 URLData over UDP). Both lists change at run time
through the admin API; the checks are set lookups. Several processes of one
tracker keep their lists in step through a shared store (see
``aio/tracker_shared.py``): each still checks its own copy, so no announce
waits for the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from bitswarm.core.tracker.model import INFO_HASH_SIZE

PASSKEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
"""What a passkey looks like: 8 to 64 URL-safe characters."""

AccessKind = Literal["passkeys", "torrents"]
"""The two lists: passkeys, and the info-hashes of the allowed torrents."""


def passkey_in_path(path: str) -> str | None:
    """The passkey of ``/announce/<passkey>`` or ``/<passkey>/announce`` (query ignored)."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) == 2 and "announce" in parts:
        candidate = parts[1] if parts[0] == "announce" else parts[0]
        if PASSKEY.fullmatch(candidate):
            return candidate
    return None


def check_passkey(passkey: str) -> str:
    """``passkey`` if it looks like one, else :class:`ValueError` saying why."""
    if not PASSKEY.fullmatch(passkey):
        raise ValueError(f"a passkey is 8 to 64 of A-Z a-z 0-9 _ -, not {passkey[:80]!r}")
    return passkey


def check_info_hash(info_hash: bytes) -> bytes:
    """``info_hash`` if it is 20 bytes long, else :class:`ValueError` saying why."""
    if len(info_hash) != INFO_HASH_SIZE:
        raise ValueError(f"an info-hash is 20 bytes, not {len(info_hash)}")
    return info_hash


class AccessList:
    """Private-mode gate; in open mode :meth:`refusal` always answers ``None``."""

    def __init__(self, *, private: bool = False) -> None:
        self.private = private
        self._passkeys: set[str] = set()
        self._info_hashes: set[bytes] = set()

    def add_passkey(self, passkey: str) -> None:
        self._passkeys.add(check_passkey(passkey))

    def remove_passkey(self, passkey: str) -> bool:
        """Forget a passkey; whether it was known."""
        known = passkey in self._passkeys
        self._passkeys.discard(passkey)
        return known

    def allow(self, info_hash: bytes) -> None:
        self._info_hashes.add(check_info_hash(info_hash))

    def disallow(self, info_hash: bytes) -> bool:
        """Take a torrent off the allow-list; whether it was on it."""
        known = info_hash in self._info_hashes
        self._info_hashes.discard(info_hash)
        return known

    def change(self, kind: AccessKind, item: str, add: bool) -> bool:
        """Add or remove a passkey or an info-hash (as hex); whether the list changed."""
        if kind == "passkeys":
            if not add:
                return self.remove_passkey(item)
            known = item in self._passkeys
            self.add_passkey(item)
            return not known
        info_hash = bytes.fromhex(item)
        if not add:
            return self.disallow(info_hash)
        known = info_hash in self._info_hashes
        self.allow(info_hash)
        return not known

    def replace(self, passkeys: Iterable[str], info_hashes: Iterable[bytes]) -> None:
        """Make both lists exactly these, as read from a shared store (entries are checked)."""
        self._passkeys = {check_passkey(passkey) for passkey in passkeys}
        self._info_hashes = {check_info_hash(info_hash) for info_hash in info_hashes}

    def refusal(self, passkey: str | None, info_hash: bytes | None) -> str | None:
        """Why this request is refused, or ``None`` if it may go on."""
        if not self.private:
            return None
        if passkey is None:
            return "this tracker is private: announce with your passkey in the URL"
        if passkey not in self._passkeys:
            return "unknown passkey"
        if info_hash is not None and info_hash not in self._info_hashes:
            return "torrent not registered with this tracker"
        return None

    def snapshot(self) -> dict[str, object]:
        """The lists as JSON-ready values, for the admin API."""
        return {
            "private": self.private,
            "passkeys": sorted(self._passkeys),
            "info_hashes": sorted(h.hex() for h in self._info_hashes),
        }
