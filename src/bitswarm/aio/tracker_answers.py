"""HTTP announce and scrape answers, whichever HTTP server carried the request (BEP 3, 48).

The aiohttp application and the lean announce server
(:mod:`~bitswarm.aio.tracker_http_lean`) both turn a request into a bencoded
body here, so they cannot drift apart: the same parsing, access checks,
client address rules, metrics and failure texts. Every outcome is a body for
status 200: a malformed request, a refusal and even a failing store answer
``failure reason``, which clients show their users, where a 500 tells them
nothing.

A store that answers inline (:class:`~bitswarm.stores.base.ImmediateStore`)
is called through :meth:`HttpAnswers.answer_now`, with no coroutine at all;
any other store through :meth:`HttpAnswers.answer`. The lean server tries
:meth:`HttpAnswers.announce_inline` first, the hot path of
:mod:`~bitswarm.core.tracker.http_hot_path`, which answers a plain announce
in open mode byte for byte as :meth:`HttpAnswers.answer_now` would.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.aio.tracker_metrics import Kind
from bitswarm.core.tracker import http_reply
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.http_hot_path import announce_inline
from bitswarm.core.tracker.http_query import AnnounceQuery, parse_announce, parse_scrape
from bitswarm.core.tracker.model import Announcement, AnnounceResult, SwarmCounts
from bitswarm.stores.base import ImmediateStore

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal tracker error, try again later"


class Refused(Exception):
    """A request the tracker answers with ``failure reason``."""


@dataclass(frozen=True, slots=True)
class TrackerRequest:
    """What an announce or scrape needs from its HTTP request, raw."""

    kind: Kind
    """``announces`` or ``scrapes``."""
    query: bytes
    """The query, still percent-encoded."""
    passkey: str | None
    peer_host: str | None
    """The TCP peer's address, if known."""
    forwarded: str | None = None
    """The configured client address header's value, if the server uses one."""


class HttpAnswers:
    """Bencoded bodies for announce and scrape requests of one tracker process."""

    def __init__(self, context: TrackerContext, client_address_header: str | None) -> None:
        self.context = context
        self.header = client_address_header

    def answer_now(self, request: TrackerRequest, store: ImmediateStore) -> bytes:
        """The body, asking a store that answers inline."""
        try:
            if request.kind == "announces":
                query, announcement = self._announcement(request)
                result = store.announce_now(announcement, self.context.clock())
                return self._announced(query, result)
            hashes = self._scrape_hashes(request)
            return self._scraped(hashes, store.scrape_now(hashes))
        except (TrackerMessageError, Refused) as refusal:
            return self._refused(refusal)
        except Exception:  # a failing store must still get a bencoded answer, never a 500
            return self._failed(request)

    def announce_inline(self, query: bytes, ip: bytes, store: ImmediateStore) -> bytes | None:
        """The body for a plain announce of an open tracker, from a client at packed ``ip``
        (not behind a proxy header); ``None`` when it must take :meth:`answer_now`."""
        context = self.context
        if context.access.private or self.header is not None:
            return None
        try:
            body = announce_inline(
                query, ip, context.policy, store.announce_values, context.clock()
            )
        except Exception:  # a failing store must still get a bencoded answer, never a 500
            log.exception("tracker request failed: announces")
            context.metrics.count("http", "errors")
            return http_reply.failure(INTERNAL_ERROR)
        if body is not None:
            context.metrics.count("http", "announces")
        return body

    async def answer(self, request: TrackerRequest) -> bytes:
        """The body, awaiting the context's store."""
        store = self.context.store
        try:
            if request.kind == "announces":
                query, announcement = self._announcement(request)
                result = await store.announce(announcement, self.context.clock())
                return self._announced(query, result)
            hashes = self._scrape_hashes(request)
            return self._scraped(hashes, await store.scrape(hashes))
        except (TrackerMessageError, Refused) as refusal:
            return self._refused(refusal)
        except Exception:  # a failing store must still get a bencoded answer, never a 500
            return self._failed(request)

    def _announcement(self, request: TrackerRequest) -> tuple[AnnounceQuery, Announcement]:
        query = parse_announce(request.query)
        self._check_access(request.passkey, query.info_hash)
        host = self._client_host(request)
        return query, self.context.policy.http_announcement(query, host)

    def _announced(self, query: AnnounceQuery, result: AnnounceResult) -> bytes:
        self.context.metrics.count("http", "announces")
        policy = self.context.policy
        return http_reply.announce(result, query, policy, warning=policy.warning(query))

    def _scrape_hashes(self, request: TrackerRequest) -> tuple[bytes, ...]:
        info_hashes = parse_scrape(request.query)
        for info_hash in info_hashes:
            self._check_access(request.passkey, info_hash)
        return info_hashes

    def _scraped(self, info_hashes: tuple[bytes, ...], counts: list[SwarmCounts]) -> bytes:
        self.context.metrics.count("http", "scrapes")
        return http_reply.scrape(info_hashes, counts)

    def _refused(self, refusal: Exception) -> bytes:
        self.context.metrics.count("http", "errors")
        return http_reply.failure(str(refusal))

    def _failed(self, request: TrackerRequest) -> bytes:
        log.exception("tracker request failed: %s", request.kind)
        self.context.metrics.count("http", "errors")
        return http_reply.failure(INTERNAL_ERROR)

    def _check_access(self, passkey: str | None, info_hash: bytes) -> None:
        refusal = self.context.access.refusal(passkey, info_hash)
        if refusal:
            raise Refused(refusal)

    def _client_host(self, request: TrackerRequest) -> str:
        if self.header is None:
            if request.peer_host is None:
                raise Refused("cannot tell the client's address")
            return request.peer_host
        value = (request.forwarded or "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise Refused(f"no client address in the {self.header} header") from None
