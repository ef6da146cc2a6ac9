"""The peer wire protocol (BEP 3, with BEP 6 fast and BEP 10 extension messages).

``handshake`` and ``messages`` are the byte formats, ``parser`` cuts a byte
stream into messages under hard size bounds, and ``connection`` is the
h11-style state machine a socket adapter (or the simulator) drives.
"""
