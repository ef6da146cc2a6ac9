"""Tests of the bitswarm command line (a package, so its conftest gets a name of its own)."""
