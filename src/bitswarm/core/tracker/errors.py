"""The one exception family for malformed tracker messages (BEP 3, 15, 48).

A tracker talks to the whole Internet, so every parser here rejects bad input
with an exception that says what was wrong and where: a byte offset for UDP
packets, a parameter name for HTTP queries. Callers catch
:class:`TrackerMessageError` alone and turn it into a BEP error reply.
"""

from __future__ import annotations


class TrackerMessageError(ValueError):
    """A tracker request or reply that breaks its protocol.

    ``reason`` is the fault without location, ``where`` names the byte offset
    or the query parameter; ``str(error)`` joins both into one line.
    """

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"{reason} ({where})")
        self.reason = reason
        self.where = where


class UdpPacketError(TrackerMessageError):
    """A malformed UDP tracker packet (BEP 15, 41); ``offset`` is the faulty byte."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason, f"at byte {offset}")
        self.offset = offset


class QueryError(TrackerMessageError):
    """A malformed HTTP announce or scrape query (BEP 3, 48); ``parameter`` is the culprit."""

    def __init__(self, reason: str, parameter: str) -> None:
        super().__init__(reason, f"parameter {parameter!r}")
        self.parameter = parameter
