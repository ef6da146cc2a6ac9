"""Files on disk: walking content, reading and hashing it for create and verify (threads).

No asyncio here; the asyncio adapters in :mod:`bitswarm.aio` run this on thread pools.
"""
