"""Tracker peer stores: where a tracker keeps its swarms.

:mod:`.base` defines the interface, :mod:`.memory` is the embedded default
and a Redis store shares swarms between processes and machines.
"""
