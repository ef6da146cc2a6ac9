"""A tracker peer store in Redis, so several tracker processes share one set of swarms (BEP 3, 48).

Each tracker worker (or machine) talks to the same Redis; a tracker restart
loses nothing, since the swarms live in Redis. The behaviour is
:class:`~bitswarm.stores.base.PeerStore`'s contract, the same as the memory
store's.

Layout, per torrent (``H`` is the info-hash in hex, inside braces so that a
Redis Cluster keeps one torrent's keys in one slot)::

    PREFIX:{H}:s   sorted set  seeders: compact address -> expiry time
    PREFIX:{H}:l   sorted set  leechers: compact address -> expiry time
    PREFIX:{H}:i   hash        compact address -> peer id
    PREFIX:{H}:m   hash        'downloaded' -> completed downloads

and, for the whole store, ``PREFIX:torrents`` (a set of info-hashes, walked by
:meth:`RedisStore.expire`) and ``PREFIX:stats`` (running seeder and leecher
totals, so :meth:`RedisStore.stats` is one command). Those two global keys
make the store a single-Redis (or single-primary) design, which is what a
tracker needs: one Redis serves hundreds of thousands of commands a second.
The access lists of a private tracker and the request counters live beside
them (:mod:`.redis_shared`).

Theory of operation
-------------------
One announce is one round trip, shared with the announces in flight beside
it (:mod:`.redis_batch` pipelines them over one connection): a Lua script,
called by its SHA, does everything atomically on the server. It sweeps a
bounded number of expired peers, moves the announcer between the seeder and
leecher sets (or removes it on ``stopped``), counts a completion, and picks
the peers to return with ``ZRANDMEMBER``, dropping the announcer, expired entries, seeders
for a seeder, and the wrong address family when asked. The shuffle inside the
script is seeded from the store's random generator, so tests can fix it.
Candidates come from each set separately (``numwant + 1`` from each), so a
leecher is offered seeders at least in proportion, never fewer. The chosen
peers come back packed in one string (for each: address length, address, peer
id), far cheaper for the client to read than nested lists.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import redis.asyncio as aioredis

from bitswarm.core.tracker.model import (
    PEER_ID_SIZE,
    Announcement,
    AnnounceResult,
    StoreStats,
    SwarmCounts,
)
from bitswarm.stores.redis_batch import ScriptBatcher
from bitswarm.stores.redis_shared import RedisSharedState

_SWEEP = """
local now = tonumber(ARGV[2])
local function sweep(key, field, limit)
  local stale = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. now, 'LIMIT', 0, limit)
  if #stale > 0 then
    redis.call('ZREM', key, unpack(stale))
    redis.call('HDEL', KEYS[3], unpack(stale))
    redis.call('HINCRBY', KEYS[6], field, -#stale)
  end
  return #stale
end
local function forget_if_empty()
  local seeders = redis.call('ZCARD', KEYS[1])
  local leechers = redis.call('ZCARD', KEYS[2])
  if seeders + leechers == 0 then
    redis.call('DEL', KEYS[3], KEYS[4])
    redis.call('SREM', KEYS[5], ARGV[1])
  end
  return seeders, leechers
end
"""

_ANNOUNCE = (
    _SWEEP
    + """
-- ARGV: info-hash, now, address, peer id, seeder, event, expiry, numwant, family, seed
local address, seeder, event = ARGV[3], ARGV[5] == '1', tonumber(ARGV[6])
local numwant, family = tonumber(ARGV[8]), tonumber(ARGV[9])
sweep(KEYS[1], 'seeders', 64)  -- a bounded share of the sweeping, the rest in expire()
sweep(KEYS[2], 'leechers', 64)
local was_seeder = redis.call('ZREM', KEYS[1], address) == 1
if was_seeder then
  redis.call('HINCRBY', KEYS[6], 'seeders', -1)
elseif redis.call('ZREM', KEYS[2], address) == 1 then
  redis.call('HINCRBY', KEYS[6], 'leechers', -1)
end
if event == 3 then
  redis.call('HDEL', KEYS[3], address)
else
  if event == 1 and not was_seeder then redis.call('HINCRBY', KEYS[4], 'downloaded', 1) end
  if seeder then
    redis.call('ZADD', KEYS[1], ARGV[7], address)
    redis.call('HINCRBY', KEYS[6], 'seeders', 1)
  else
    redis.call('ZADD', KEYS[2], ARGV[7], address)
    redis.call('HINCRBY', KEYS[6], 'leechers', 1)
  end
  redis.call('HSET', KEYS[3], address, ARGV[4])
  redis.call('SADD', KEYS[5], ARGV[1])
end
local downloaded = tonumber(redis.call('HGET', KEYS[4], 'downloaded') or '0')
local seeders, leechers = forget_if_empty()
local candidates = {}
local function gather(key)
  local got = redis.call('ZRANDMEMBER', key, numwant + 1, 'WITHSCORES')
  for i = 1, #got, 2 do
    local peer = got[i]
    if peer ~= address and tonumber(got[i + 1]) >= now and (family == 0 or #peer == family) then
      candidates[#candidates + 1] = peer
    end
  end
end
if event ~= 3 and numwant > 0 then
  if not seeder then gather(KEYS[1]) end
  gather(KEYS[2])
end
math.randomseed(tonumber(ARGV[10]))
for i = #candidates, 2, -1 do
  local j = math.random(i)
  candidates[i], candidates[j] = candidates[j], candidates[i]
end
local picked = {}
for i = 1, math.min(numwant, #candidates) do picked[i] = candidates[i] end
local entries = {}
if #picked > 0 then
  local ids = redis.call('HMGET', KEYS[3], unpack(picked))
  for i = 1, #picked do
    entries[i] = string.char(#picked[i]) .. picked[i] .. (ids[i] or string.rep('\0', 20))
  end
end
return {seeders, leechers, downloaded, table.concat(entries)}
"""
)

_EXPIRE = (
    _SWEEP
    + """
-- ARGV: info-hash, now, limit; returns what it removed and whether stale peers remain
local limit = tonumber(ARGV[3])
local removed = sweep(KEYS[1], 'seeders', limit) + sweep(KEYS[2], 'leechers', limit)
local stale = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. now)
  + redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. now)
forget_if_empty()
return {removed, stale}
"""
)

SWARMS_PER_SCAN = 500
"""Info-hashes fetched per SSCAN while expiring."""

SWEEP_LIMIT = 1000
"""Peers one script call removes from each set at most, so Redis never blocks long."""


class RedisStore:
    """A :class:`~bitswarm.stores.base.PeerStore` kept in Redis; see the module docstring.

    ``url`` is a redis-py URL (``redis://127.0.0.1:6379/0``); ``prefix``
    separates several trackers sharing one Redis database.
    """

    def __init__(
        self,
        url: str,
        peer_ttl: float,
        *,
        prefix: str = "bitswarm",
        rng: random.Random | None = None,
    ) -> None:
        if peer_ttl <= 0:
            raise ValueError(f"peer_ttl must be positive, not {peer_ttl}")
        self.peer_ttl = peer_ttl
        self._prefix = prefix
        self._rng = rng or random.Random()
        self._redis = aioredis.Redis.from_url(url)
        self._announce = ScriptBatcher(self._redis, _ANNOUNCE)
        self._expire = self._redis.register_script(_EXPIRE)
        self._torrents = f"{prefix}:torrents"
        self._stats = f"{prefix}:stats"
        self._shared = RedisSharedState(self._redis, prefix)

    def shared_state(self) -> RedisSharedState:
        """Access lists and request counters beside the swarms (:mod:`.redis_shared`)."""
        return self._shared

    def _keys(self, info_hash: bytes) -> list[str]:
        base = f"{self._prefix}:{{{info_hash.hex()}}}"
        return [f"{base}:s", f"{base}:l", f"{base}:i", f"{base}:m", self._torrents, self._stats]

    async def announce(self, announcement: Announcement, now: float) -> AnnounceResult:
        a = announcement
        expiry = min(math.ceil(now + self.peer_ttl), 0xFFFFFFFF)
        args = [
            a.info_hash.hex(),
            repr(now),
            a.address,
            a.peer_id,
            1 if a.seeder else 0,
            int(a.event),
            expiry,
            max(a.numwant, 0),
            len(a.address) if a.same_family_only else 0,
            self._rng.getrandbits(31),
        ]
        keys = self._keys(a.info_hash)
        seeders, leechers, downloaded, entries = await self._announce(keys, args)
        peers, peer_ids = _unpack_entries(entries)
        counts = SwarmCounts(seeders, leechers, downloaded)
        return AnnounceResult(peers, counts, peer_ids if a.peer_ids_wanted else ())

    async def scrape(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for info_hash in info_hashes:
                seeds, leeches, _, meta, _, _ = self._keys(info_hash)
                pipe.zcard(seeds)
                pipe.zcard(leeches)
                pipe.hget(meta, "downloaded")
            replies = await pipe.execute()
        return [
            SwarmCounts(replies[i], replies[i + 1], int(replies[i + 2] or 0))
            for i in range(0, len(replies), 3)
        ]

    async def expire(self, now: float) -> int:
        removed = 0
        cursor = 0
        while True:
            cursor, found = await self._redis.sscan(self._torrents, cursor, count=SWARMS_PER_SCAN)
            pending = [m.decode() if isinstance(m, bytes) else m for m in found]
            while pending:  # one pipelined round trip per batch of swarms and pass
                async with self._redis.pipeline(transaction=False) as pipe:
                    for hex_hash in pending:
                        keys = self._keys(bytes.fromhex(hex_hash))
                        args: list[str | int] = [hex_hash, repr(now), SWEEP_LIMIT]
                        await self._expire(keys=keys, args=args, client=pipe)
                    replies = await pipe.execute()
                removed += sum(swept for swept, _ in replies)
                pending = [h for h, (_, stale) in zip(pending, replies, strict=True) if stale]
            if cursor == 0:
                return removed

    async def stats(self) -> StoreStats:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.scard(self._torrents)
            pipe.hmget(self._stats, "seeders", "leechers")
            torrents, (seeders, leechers) = await pipe.execute()
        return StoreStats(torrents, int(seeders or 0), int(leechers or 0))

    async def close(self) -> None:
        await self._announce.close()
        await self._redis.aclose()


def _unpack_entries(entries: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """Addresses and peer ids as the script packs them in one string: length, address, peer id."""
    addresses = []
    peer_ids = []
    at = 0
    while at < len(entries):
        end = at + 1 + entries[at]
        addresses.append(entries[at + 1 : end])
        peer_ids.append(entries[end : end + PEER_ID_SIZE])
        at = end + PEER_ID_SIZE
    return tuple(addresses), tuple(peer_ids)
