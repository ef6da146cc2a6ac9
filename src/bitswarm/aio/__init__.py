"""asyncio adapters: the sockets, files, clocks and tasks around the sans-I/O core.

Each module here drives a machine from :mod:`bitswarm.core` and stays thin
(DESIGN.md's layering): the tracker client, the tracker servers, peer
connections, the DHT node, disk and the session that composes them.
"""
