"""Build the optional C accelerator of bitswarm.core.bencode; everything else is in pyproject.toml.

``optional=True``: without a C compiler the package still installs, and the
pure-Python codec is used.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "bitswarm.core._bencode",
            ["src/bitswarm/core/_bencode.c"],
            optional=True,
        )
    ]
)
