"""Tracker messages and logic, sans-I/O (BEP 3, 7, 15, 23, 41, 48).

Shared by both sides: the UDP packet codec (:mod:`.udp`), compact peer
addresses (:mod:`.compact`), the announce model every peer store speaks
(:mod:`.model`) and the error family (:mod:`.errors`).

Client side: :mod:`.client_model`, :mod:`.http_client`, :mod:`.udp_client`,
:mod:`.tiers`.

Server side: HTTP queries and replies (:mod:`.http_query`, :mod:`.http_reply`),
the swarm registry (:mod:`.registry`), policy and private-mode access
(:mod:`.policy`, :mod:`.access`), and the UDP server's decisions
(:mod:`.udp_server`) with its connection ids (:mod:`.connection_ids`) and
connect rate limits (:mod:`.rate_limit`).
"""
