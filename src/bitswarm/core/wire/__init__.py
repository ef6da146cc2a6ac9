"""The peer wire protocol (BEP 3, with BEP 6 fast and BEP 10 extension messages).

``handshake`` and ``messages`` are the byte formats, ``parser`` cuts a byte
stream into messages under hard size bounds, and ``connection`` is the
h11-style byte machine (handshake both ways, framing) a socket adapter
drives. What the messages mean is the torrent state machine's
(:mod:`bitswarm.core.swarm`).
"""
