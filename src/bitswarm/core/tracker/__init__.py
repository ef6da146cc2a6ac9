"""Tracker messages and logic, sans-I/O (BEP 3, 7, 15, 23, 41, 48).

Shared by the tracker client and the tracker server: the UDP packet codec
(:mod:`.udp`), compact peer addresses (:mod:`.compact`), the announce model
every peer store speaks (:mod:`.model`), and the server's swarm registry,
query parsing and connection-id logic.
"""
