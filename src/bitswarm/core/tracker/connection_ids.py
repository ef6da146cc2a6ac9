"""Stateless UDP connection ids: a keyed MAC over the client address and a time bucket (BEP 15).

BEP 15's connect step exists to stop address spoofing: a client can only
quote the connection id if it received the tracker's reply. Remembering every
id issued would cost memory per client and tie a client to one process.
Instead, like opentracker, the id is a MAC: ``blake2b(key=secret)`` over the
client's IP address (not its port) and the current 30-second time bucket,
truncated to 64 bits. The port is left out as opentracker does: proving the address receives
is what matters, and libtorrent shares one id cache among all sessions of a
process, so its announces may come from another port than its connect.
Checking recomputes it for the current bucket and the four before it, so an
id is accepted for at least two minutes after it was sent, as BEP 15 asks
(and at most two and a half; clients use one for at most one), and every
process given the same secret accepts every other process's ids. Recent MACs
are remembered (a bounded table, emptied when full), as a connect and the
announces quoting its id ask for the same one; so are ids already checked,
with the bucket they belong to, so that checking a client's next announce
is one dict hit and one compare, not five MACs.
"""

from __future__ import annotations

import hashlib
import hmac

BUCKET_SECONDS = 30
"""Width of a time bucket."""

BUCKETS_ACCEPTED = 5
"""Buckets an id is valid in: its own and the next four, 120 to 150 seconds."""

MACS_REMEMBERED = 16384
"""MACs kept for reuse: a client's announces follow its connect within the same bucket."""

_MAX_KEY = 64  # blake2b's largest key


class ConnectionIds:
    """Issues and checks connection ids for one secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the connection-id secret must not be empty")
        self._key = secret if len(secret) <= _MAX_KEY else hashlib.blake2b(secret).digest()
        self._recent: dict[bytes, bytes] = {}  # bucket and address -> MAC
        self._proven: dict[tuple[int, bytes], int] = {}  # id and address -> its bucket

    def issue(self, ip: bytes, now: float) -> int:
        """The id for a client at packed ``ip`` (4 or 16 bytes) at time ``now``."""
        return int.from_bytes(self._mac(ip, int(now // BUCKET_SECONDS)), "big")

    def check(self, connection_id: int, ip: bytes, now: float) -> bool:
        """Whether ``connection_id`` was issued to ``ip`` in one of the accepted buckets."""
        bucket = int(now // BUCKET_SECONDS)
        issued = self._proven.get((connection_id, ip))
        if issued is not None:
            return 0 <= bucket - issued < BUCKETS_ACCEPTED
        quoted = connection_id.to_bytes(8, "big")
        for age in range(BUCKETS_ACCEPTED):
            if hmac.compare_digest(quoted, self._mac(ip, bucket - age)):
                if len(self._proven) >= MACS_REMEMBERED:
                    self._proven.clear()
                self._proven[connection_id, ip] = bucket - age
                return True
        return False

    def _mac(self, ip: bytes, bucket: int) -> bytes:
        message = bucket.to_bytes(8, "big", signed=True) + ip
        mac = self._recent.get(message)
        if mac is None:
            if len(self._recent) >= MACS_REMEMBERED:
                self._recent.clear()
            mac = hashlib.blake2b(message, digest_size=8, key=self._key).digest()
            self._recent[message] = mac
        return mac
