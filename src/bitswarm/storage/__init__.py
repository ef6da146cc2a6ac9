"""Files on disk: walking content, hashing it for create and verify, block reads and writes, resume.

:mod:`~bitswarm.storage.piece_store` reads and writes a torrent's blocks
(sparse files, pad files never on disk); :mod:`~bitswarm.storage.resume` saves
the verified pieces atomically and trusts them at start where files are
unchanged. No asyncio here; the asyncio adapters in :mod:`bitswarm.aio` run this
on thread pools.
"""
