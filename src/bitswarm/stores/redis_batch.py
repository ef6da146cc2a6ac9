"""Concurrent calls of one Redis Lua script, sent in pipelined batches over one connection.

Why: a busy tracker has hundreds of announces in flight at once. Called
naively, redis-py gives each its own pooled connection and round trip, and
under load runs out of connections. :class:`ScriptBatcher` instead queues the
calls; one flushing task sends whatever has gathered as a single pipeline
(``transaction=False``), and whatever arrives while that batch is on the wire
goes in the next one. Each call is still its own ``EVALSHA``, so each stays
atomic on the server; only the round trips are shared.

The script is called by its SHA-1. Redis answers ``NOSCRIPT`` the first time
and after a restart (scripts are not persisted); the calls that got that
answer are sent again once the script is loaded, and only those, since the
others already ran.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

Argument = bytes | str | int | float
_Call = tuple[Sequence[str], Sequence[Argument], "asyncio.Future[Any]"]


class ScriptBatcher:
    """Runs ``script`` for many concurrent callers; ``await batcher(keys, args)``."""

    def __init__(self, redis: aioredis.Redis, script: str) -> None:
        self._redis = redis
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._queue: list[_Call] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, keys: Sequence[str], args: Sequence[Argument]) -> Any:
        """The script's reply for ``keys`` and ``args``; Redis errors are raised here."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def close(self) -> None:
        """Wait until the calls already queued have been answered."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                replies = await self._run(batch)
            except Exception as error:  # the connection failed: every caller hears why
                replies = [error] * len(batch)
            for (_, _, future), reply in zip(batch, replies, strict=True):
                if future.done():  # the caller gave up waiting
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    async def _run(self, batch: list[_Call]) -> list[Any]:
        replies = await self._pipeline(batch)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            await self._redis.script_load(self._script)
            again = await self._pipeline([batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.execute_command("EVALSHA", self._sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
