"""Build the optional C accelerators; everything else is in pyproject.toml.

``bitswarm.core._bencode`` speeds up the bencode codec and
``bitswarm.aio._datagrams`` batches the UDP tracker's system calls, and
``bitswarm.storage._shrink_guard`` lets hashing read files through memory maps.
mypyc compiles the swarm core and the simulator (the modules
``bitswarm/native.py`` lists). All are optional: without a C compiler (or
mypyc) the package still installs, and the pure-Python code is used.
"""

import glob
import os
import runpy
import shutil
import sys

from setuptools import Extension, setup

SOURCES = "src"


def native_extensions() -> list[Extension]:
    """The mypyc build of the modules ``bitswarm/native.py`` lists, in a folder named after
    their sources, which ``bitswarm.native`` loads only while it matches them. Skipped
    with ``BITSWARM_NATIVE=0``, without mypyc, and when mypyc refuses the sources: a build
    is a speed-up, never a reason for an install to fail."""

    if os.environ.get("BITSWARM_NATIVE") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    native = runpy.run_path(os.path.join(SOURCES, "bitswarm", "native.py"))
    name = native["build_name"](native["source_digest"](SOURCES))
    paths = [native["source_path"](module, SOURCES) for module in native["MODULES"]]
    try:
        extensions: list[Extension] = mypycify(paths, opt_level="3", group_name=name)
    except (SystemExit, Exception) as error:
        print(
            f"setup.py: mypyc did not compile ({error!r}); all will run from source",
            file=sys.stderr,
        )
        return []
    _remove_builds_but(name)
    for extension in extensions:
        extension.name = f"{name}.{extension.name}"
        extension.optional = True
        # an editable install copies each file into the tree, but makes no folder for it
        folder = os.path.join(SOURCES, *extension.name.split(".")[:-1])
        os.makedirs(folder, exist_ok=True)
    return extensions


def _remove_builds_but(current: str) -> None:
    """Builds of other sources are never loaded again: take them out of the tree."""

    for folder in (SOURCES, *glob.glob(os.path.join("build", "lib*"))):
        for build in glob.glob(os.path.join(folder, "bitswarm_native_*")):
            if os.path.basename(build) != current:
                shutil.rmtree(build)


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
