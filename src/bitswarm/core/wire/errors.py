"""The two ways a peer connection goes wrong (BEP 3 wire protocol).

:class:`ProtocolError` is the remote peer's fault: bytes or a message the
protocol forbids. The caller's answer is to drop the peer. It is a
``ValueError`` because it is, at bottom, bad input.

:class:`LocalProtocolError` is ours: the caller asked the connection to send
something the protocol forbids in the current state (a message before the
handshake is done or after the close). It signals a bug in the caller, so it is
kept apart from :class:`ProtocolError` and never swallowed by the
drop-the-peer handler.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """The remote peer broke the wire protocol; the message says what and where."""


class LocalProtocolError(RuntimeError):
    """The local caller asked for something the protocol forbids in this state."""
