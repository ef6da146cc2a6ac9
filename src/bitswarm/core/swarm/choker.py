"""The choker: whom we upload to (BEP 3 "choking", tit-for-tat).

Theory of operation
-------------------
The caller hands :meth:`Choker.rechoke` a value snapshot of its peers
(:class:`PeerSnapshot`: rates, interest, when it last got data from each)
and whether we are seeding; it answers with the full set to unchoke and the
changes against the snapshot (:class:`ChokeDecision`). :meth:`Choker.get_timer`
says when the next round is due (every ``round_interval``, 10 s as in BEP 3);
between rounds, :meth:`Choker.fill` gives free slots to waiting peers. The
choker keeps only its own memory: the optimistic peer, when it was chosen,
when each peer was last unchoked, and when the turn of each peer in a
regular slot began (and what it had been sent by then).

A round, downloading (leecher mode):

* Regular slots (``upload_slots - 1``, the last one being the optimistic
  unchoke) go to the interested peers we download fastest from: tit-for-tat.
  Uninterested peers that send to us faster than the last of them are
  unchoked too (it costs nothing, and if they turn interested the next round
  sorts it out), as in BEP 3. On equal rates a peer already unchoked stays,
  so slots do not flap.
* A peer that has sent us nothing for ``snub_timeout`` while we wanted its
  pieces is snubbing us: it gets no regular slot (anti-snubbing), only the
  optimistic chance any choked peer has.

Seeding (seed mode), rates from peers mean nothing, so the regular slots
rotate: round robin over interested peers, the one unchoked longest ago first,
so every downloader gets its turn. A turn lasts until the peer has been sent
``seeding_quota_pieces`` pieces' worth and ``seeding_quota_seconds`` have
passed, as libtorrent's round robin (its ``seeding_piece_quota``): a turn cut
at every round would leave each peer with pieces half sent, which it cannot
trade and can get nowhere else while only we have them.

Every ``optimistic_interval`` (30 s) the optimistic slot moves to a random
interested peer outside the regular set, drawn from the caller's generator;
peers connected within the last interval weigh three times as much (BEP 3:
"new connections are three times as likely to start as the current
optimistic unchoke"), as they have nothing to trade yet.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bitswarm.core.swarm.pieces import PeerKey

NEWCOMER_WEIGHT = 3


@dataclass(slots=True)
class PeerSnapshot:
    """What the choker needs to know of one peer, at one moment.

    A value nobody changes, yet not frozen: the torrent builds one for every
    peer that can move at each choking decision, and a frozen dataclass takes
    five times as long to build."""

    key: PeerKey
    interested: bool
    """The peer is interested in us (wants to download)."""
    download_rate: float
    """Bytes/s we receive from the peer."""
    upload_rate: float
    """Bytes/s we send to the peer."""
    am_choking: bool
    """Whether we currently choke the peer."""
    connected_at: float
    am_interested: bool = False
    """We want pieces the peer has (needed for anti-snubbing)."""
    last_block_at: float | None = None
    """When the peer last sent us a block, if ever."""
    uploaded: int = 0
    """Payload bytes we have sent the peer since it connected."""


@dataclass(frozen=True, slots=True)
class ChokeDecision:
    """The outcome of a round: the whole unchoked set, and what changes to send."""

    unchoked: frozenset[PeerKey]
    """Every peer to leave unchoked after this round."""
    optimistic: PeerKey | None
    unchoke: tuple[PeerKey, ...]
    """Peers to send ``unchoke`` now (choked in the snapshot)."""
    choke: tuple[PeerKey, ...]
    """Peers to send ``choke`` now (unchoked in the snapshot)."""


@dataclass(frozen=True, slots=True)
class ChokerConfig:
    """BEP 3's numbers: four upload slots, 10 s rounds, a 30 s optimistic unchoke."""

    upload_slots: int = 4
    round_interval: float = 10.0
    optimistic_interval: float = 30.0
    snub_timeout: float = 60.0
    seeding_quota_pieces: int = 20
    seeding_quota_seconds: float = 60.0
    """Seeding, a regular slot is held until both parts of the quota are met."""


class Choker:
    """Decides, round by round, which peers we upload to."""

    def __init__(
        self, rng: random.Random, config: ChokerConfig | None = None, *, piece_length: int = 0
    ) -> None:
        """``piece_length`` sizes the seeding quota; without it only its time part counts."""

        self.config = config or ChokerConfig()
        if self.config.upload_slots < 1:
            raise ValueError(f"upload slots must be at least 1, got {self.config.upload_slots}")
        self._rng = rng
        self._next_round: float | None = None
        self._optimistic: PeerKey | None = None
        self._optimistic_until = -math.inf
        self._last_unchoked: dict[PeerKey, float] = {}
        self._turns: dict[PeerKey, tuple[float, int]] = {}
        """Peers in regular slots: when their turn began, and the bytes sent them by then."""
        self._quota_bytes = self.config.seeding_quota_pieces * piece_length

    @property
    def optimistic(self) -> PeerKey | None:
        return self._optimistic

    def get_timer(self) -> float | None:
        """When the next round is due; ``None`` before the first round."""

        return self._next_round

    def rechoke(self, now: float, peers: Sequence[PeerSnapshot], *, seeding: bool) -> ChokeDecision:
        """Run a round: regular slots now, the optimistic slot when its interval is up."""

        config = self.config
        self._next_round = now + config.round_interval
        by_key = {peer.key: peer for peer in peers}
        self._last_unchoked = {k: t for k, t in self._last_unchoked.items() if k in by_key}
        regular_slots = config.upload_slots - 1
        if seeding:
            regular = self._round_robin(now, peers, regular_slots)
        else:
            regular = self._tit_for_tat(now, peers, regular_slots)
        self._rotate_optimistic(now, peers, regular)
        unchoked = set(regular)
        if self._optimistic is not None:
            unchoked.add(self._optimistic)
        for key in unchoked:
            self._last_unchoked[key] = now
        self._start_turns(now, peers, regular)
        return ChokeDecision(
            unchoked=frozenset(unchoked),
            optimistic=self._optimistic,
            unchoke=tuple(p.key for p in peers if p.am_choking and p.key in unchoked),
            choke=tuple(p.key for p in peers if not p.am_choking and p.key not in unchoked),
        )

    def fill(self, now: float, peers: Sequence[PeerSnapshot], *, seeding: bool) -> ChokeDecision:
        """Between rounds: hand the free slots to waiting peers, moving nobody else.

        A slot is free while fewer interested peers are unchoked than
        ``upload_slots``. Waiting (choked, interested) peers take them in the
        order a round would choose: seeding, the one unchoked longest ago; else
        the fastest to send to us that is not snubbing us. When a slot changes
        hands, unchoked peers that are no longer interested are choked. The
        optimistic peer and the time of the next round stay as they are; the
        first fill sets the first round, ``round_interval`` later.
        """

        if self._next_round is None:
            self._next_round = now + self.config.round_interval
        busy = sum(not p.am_choking and p.interested for p in peers)
        waiting = [p for p in peers if p.am_choking and p.interested]
        free = self.config.upload_slots - busy
        if free <= 0 or not waiting:
            chosen: list[PeerKey] = []
        elif seeding:
            chosen = self._round_robin(now, waiting, free)
        else:
            chosen = self._tit_for_tat(now, waiting, free)
        idle = [p.key for p in peers if not p.am_choking and not p.interested] if chosen else []
        for key in chosen:
            self._last_unchoked[key] = now
        kept = {p.key for p in peers if not p.am_choking} - set(idle)
        self._start_turns(now, peers, (kept | set(chosen)) - {self._optimistic})
        return ChokeDecision(
            unchoked=frozenset(kept | set(chosen)),
            optimistic=self._optimistic,
            unchoke=tuple(chosen),
            choke=tuple(idle),
        )

    def _start_turns(
        self, now: float, peers: Sequence[PeerSnapshot], regular: Iterable[PeerKey]
    ) -> None:
        """The turns of the peers in regular slots go on or begin; all others end. The
        optimistic slot is no turn: it moves on its own clock, and a peer it unchoked
        that takes a regular slot begins its turn then."""

        uploaded = {peer.key: peer.uploaded for peer in peers}
        turns = self._turns
        self._turns = {key: turns.get(key, (now, uploaded[key])) for key in regular}

    def is_snubbing(self, now: float, peer: PeerSnapshot) -> bool:
        """We want its pieces, yet it has sent nothing for ``snub_timeout`` seconds."""

        if not peer.am_interested:
            return False
        since = peer.connected_at if peer.last_block_at is None else peer.last_block_at
        return now - since >= self.config.snub_timeout

    def _tit_for_tat(self, now: float, peers: Sequence[PeerSnapshot], slots: int) -> list[PeerKey]:
        chosen: list[PeerKey] = []
        interested = 0
        # Fastest first; on equal rates the peer already unchoked keeps its slot.
        fastest = sorted(peers, key=lambda p: (p.download_rate, not p.am_choking), reverse=True)
        for peer in fastest:
            if interested == slots:
                break
            if self.is_snubbing(now, peer) or not (peer.interested or peer.download_rate > 0):
                continue
            chosen.append(peer.key)
            interested += peer.interested
        return chosen

    def _round_robin(self, now: float, peers: Sequence[PeerSnapshot], slots: int) -> list[PeerKey]:
        """Peers in their turn keep it; then those unchoked longest ago, fastest first."""

        waiting = sorted(
            (p for p in peers if p.interested),
            key=lambda p: (
                not self._in_turn(now, p),
                self._last_unchoked.get(p.key, -math.inf),
                -p.upload_rate,
            ),
        )
        return [peer.key for peer in waiting[:slots]]

    def _in_turn(self, now: float, peer: PeerSnapshot) -> bool:
        """In a regular slot, short of its quota of time or of bytes."""

        turn = self._turns.get(peer.key)
        if turn is None or peer.am_choking:
            return False
        began, uploaded = turn
        quota = self.config.seeding_quota_seconds
        return now - began < quota or peer.uploaded - uploaded < self._quota_bytes

    def _rotate_optimistic(
        self, now: float, peers: Sequence[PeerSnapshot], regular: Iterable[PeerKey]
    ) -> None:
        taken = set(regular)
        keys = {peer.key for peer in peers}
        current_valid = self._optimistic in keys and self._optimistic not in taken
        if current_valid and now < self._optimistic_until:
            return
        candidates = [p for p in peers if p.interested and p.key not in taken]
        if not candidates:
            self._optimistic = None
            return
        window = self.config.optimistic_interval
        weights = [NEWCOMER_WEIGHT if now - p.connected_at < window else 1 for p in candidates]
        self._optimistic = self._rng.choices(candidates, weights)[0].key
        self._optimistic_until = now + window
