"""The C helper of :mod:`bitswarm.storage.mapped`: maps that read zeros, not SIGBUS, once shrunk."""

from mmap import mmap

class Guard:
    def release(self) -> int: ...

def guard(buffer: mmap) -> Guard: ...
