"""Build the optional C accelerators; everything else is in pyproject.toml.

``bitswarm.core._bencode`` speeds up the bencode codec and
``bitswarm.aio._datagrams`` batches the UDP tracker's system calls, and
``bitswarm.storage._shrink_guard`` lets hashing read files through memory maps.
mypyc compiles the swarm core and the simulator (the modules
``bitswarm/native.py`` lists) unless ``BITSWARM_NATIVE=0``.
``optional=True``: without a C compiler the package still installs, and the
pure-Python twins are used.
"""

import glob
import os
import runpy

from setuptools import Extension, setup

SOURCES = "src"


def native_extensions() -> list[Extension]:
    """The mypyc build of the modules ``bitswarm/native.py`` lists, as one group whose
    library is named after their sources; earlier libraries in the tree are removed, so
    that no extension built before can find one to load."""

    if os.environ.get("BITSWARM_NATIVE") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    native = runpy.run_path(os.path.join(SOURCES, "bitswarm", "native.py"))
    name = native["library_name"](native["source_digest"](SOURCES))
    for old in glob.glob(os.path.join(SOURCES, native["library_name"]("*") + "__mypyc.*")):
        os.remove(old)
    paths = [native["source_path"](module, SOURCES) for module in native["MODULES"]]
    extensions: list[Extension] = mypycify(paths, opt_level="3", group_name=name)
    for extension in extensions:
        extension.optional = True
    return extensions


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
        *native_extensions(),
    ]
)
