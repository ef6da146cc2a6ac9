"""Build the optional C accelerators; everything else is in pyproject.toml.

``bitswarm.core._bencode`` speeds up the bencode codec and
``bitswarm.aio._datagrams`` batches the UDP tracker's system calls, and
``bitswarm.storage._shrink_guard`` lets hashing read files through memory maps.
``optional=True``: without a C compiler the package still installs, and the
pure-Python twins are used.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bitswarm.core._bencode",
            ["src/bitswarm/core/_bencode.c"],
            optional=True,
        ),
        Extension(
            "bitswarm.aio._datagrams",
            ["src/bitswarm/aio/_datagrams.c"],
            optional=True,
        ),
        Extension(
            "bitswarm.storage._shrink_guard",
            ["src/bitswarm/storage/_shrink_guard.c"],
            optional=True,
        ),
    ]
)
