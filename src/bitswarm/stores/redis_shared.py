"""The state the processes of one tracker share in Redis beside the swarms.

Layout (``PREFIX`` as in :mod:`.redis_store`)::

    PREFIX:access:passkeys  set     the passkeys of a private tracker
    PREFIX:access:torrents  set     the allowed info-hashes, as hex
    PREFIX:access:version   string  bumped by every change of either set
    PREFIX:requests         hash    'http:announces' ... -> requests answered

A change is one Lua script, so a set and its version move together and the
version moves only when a set really changed. A process polls the version
(one ``GET``) and reloads both sets, in one ``MULTI``, only when it moved.
Request counters arrive as one batch of increments per process and period,
with the totals read back in the same round trip: nothing here runs per
announce. Entries that are not a passkey or an info-hash (written by hand,
say) are skipped with a warning, never served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import redis.asyncio as aioredis

from bitswarm.core.tracker.access import AccessKind, check_info_hash, check_passkey

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_CHANGE = """
-- KEYS: the set, the version; ARGV: SADD or SREM, then the members
local changed = 0
for i = 2, #ARGV do changed = changed + redis.call(ARGV[1], KEYS[1], ARGV[i]) end
if changed > 0 then redis.call('INCR', KEYS[2]) end
return changed
"""


class RedisSharedState:
    """A :class:`~bitswarm.stores.base.SharedState` in Redis, over a store's client."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._sets: dict[AccessKind, str] = {
            "passkeys": f"{prefix}:access:passkeys",
            "torrents": f"{prefix}:access:torrents",
        }
        self._version = f"{prefix}:access:version"
        self._requests = f"{prefix}:requests"
        self._change = redis.register_script(_CHANGE)

    async def change_access(self, kind: AccessKind, items: Sequence[str], add: bool) -> int:
        if not items:
            return 0
        command = "SADD" if add else "SREM"
        changed = await self._change(keys=[self._sets[kind], self._version], args=[command, *items])
        return int(changed)

    async def access_version(self) -> int:
        return int(await self._redis.get(self._version) or 0)

    async def load_access(self) -> tuple[int, set[str], set[bytes]]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._version)
            pipe.smembers(self._sets["passkeys"])
            pipe.smembers(self._sets["torrents"])
            version, passkeys, torrents = await pipe.execute()
        return int(version or 0), _valid(passkeys, _passkey), _valid(torrents, _info_hash)

    async def add_requests(self, deltas: Mapping[str, int]) -> dict[str, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, delta in deltas.items():
                if delta:
                    pipe.hincrby(self._requests, name, delta)
            pipe.hgetall(self._requests)
            replies = await pipe.execute()
        return {name.decode(): int(total) for name, total in replies[-1].items()}


def _passkey(entry: bytes) -> str:
    return check_passkey(entry.decode("ascii"))


def _info_hash(entry: bytes) -> bytes:
    return check_info_hash(bytes.fromhex(entry.decode("ascii")))


def _valid(entries: set[bytes], parse: Callable[[bytes], _T]) -> set[_T]:
    found: set[_T] = set()
    for entry in entries:
        try:
            found.add(parse(entry))
        except ValueError:  # UnicodeDecodeError is one too
            log.warning("skipping a malformed access list entry in Redis: %r", entry[:80])
    return found
