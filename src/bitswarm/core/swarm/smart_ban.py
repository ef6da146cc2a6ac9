"""Who sent the bad data: banning peers after hash failures (BEP 3 piece hashes).

A piece that fails its SHA-1 says only that *some* block in it was bad. Most
pieces are filled by several peers, so banning every contributor would drop
honest peers with the guilty one, and a torrent with one honest source could
not finish. This module follows libtorrent's two rules:

* **sole sender**: a peer that sent every block of a failed piece is guilty
  of that failure; at ``sole_failures_to_ban`` such failures (two: one may be
  bad luck on the disk or the link) it is banned;
* **smart ban**: a short digest of every block is kept, with its sender, for
  each download attempt of a piece. When a piece fails, its attempt's digests
  are kept as suspects; when the piece later passes, every suspect block
  whose digest differs from the block that passed was provably bad, and its
  sender is banned at once.

Digests cost about as much as the SHA-1 of the piece check, so they are taken
only once the torrent has seen a failure: a healthy swarm pays nothing, and
a bad peer is caught from its second attempt on. The digest is BLAKE2b keyed
per instance, so a peer cannot forge a collision for a key it never sees.
Memory: 16 bytes per block of pieces in download, and per block of failed
pieces until they pass.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass

from bitswarm.core.swarm.pieces import PeerKey

DIGEST_SIZE = 16


@dataclass(frozen=True, slots=True)
class Verdict:
    """Ban ``peer``: ``reason`` is the evidence."""

    peer: PeerKey
    reason: str


class SmartBan:
    """Block evidence per piece attempt; verdicts when pieces fail or pass."""

    __slots__ = ("_attempts", "_key", "_sole_failures", "_sole_limit", "_suspects", "alert")

    def __init__(self, rng: random.Random, sole_failures_to_ban: int = 2) -> None:
        self._key = rng.randbytes(32)
        self._sole_limit = sole_failures_to_ban
        self._attempts: dict[int, dict[int, tuple[PeerKey, bytes]]] = {}
        """piece -> block index -> (sender, digest), for the current attempt."""
        self._suspects: dict[int, list[tuple[int, PeerKey, bytes]]] = {}
        """piece -> (block index, sender, digest) from attempts that failed."""
        self._sole_failures: Counter[PeerKey] = Counter()
        self.alert = False
        """A piece has failed: record block digests from now on."""

    def _digest(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, digest_size=DIGEST_SIZE, key=self._key).digest()

    def block_received(self, piece: int, block: int, peer: PeerKey, data: bytes) -> None:
        """``peer``'s data for ``block`` of ``piece`` is the copy being written."""

        digest = self._digest(data) if self.alert else b""
        self._attempts.setdefault(piece, {})[block] = (peer, digest)

    def senders(self, piece: int) -> set[PeerKey]:
        """Who sent the blocks of the current attempt at ``piece``."""

        return {peer for peer, _ in self._attempts.get(piece, {}).values()}

    def piece_failed(self, piece: int) -> list[Verdict]:
        self.alert = True
        attempt = self._attempts.pop(piece, {})
        self._suspects.setdefault(piece, []).extend(
            (block, peer, digest) for block, (peer, digest) in attempt.items() if digest
        )
        senders = {peer for peer, _ in attempt.values()}
        if len(senders) != 1:
            return []
        (peer,) = senders
        self._sole_failures[peer] += 1
        failures = self._sole_failures[peer]
        if failures < self._sole_limit:
            return []
        return [Verdict(peer, f"sent every block of {failures} pieces that failed the hash")]

    def piece_passed(self, piece: int) -> list[Verdict]:
        good = {block: digest for block, (_, digest) in self._attempts.pop(piece, {}).items()}
        guilty: dict[PeerKey, int] = {}
        for block, peer, digest in self._suspects.pop(piece, []):
            if block in good and digest != good[block]:
                guilty.setdefault(peer, block)
        return [
            Verdict(peer, f"sent bad data for block {block} of piece {piece} (smart ban)")
            for peer, block in guilty.items()
        ]
