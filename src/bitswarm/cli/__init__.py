"""The ``bitswarm`` command line (click + rich)."""
