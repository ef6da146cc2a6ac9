"""The sans-I/O core: protocol logic as pure classes and functions.

Nothing under this package touches sockets, files, threads, event loops or the
clock. Callers hand in bytes, events, the current time and a random generator,
and get back messages, actions and deadlines. That is what lets the same code
run under asyncio (:mod:`bitswarm.aio`) and under the simulator
(:mod:`bitswarm.sim`), and what a test in ``tests/core/test_sans_io.py`` checks.
"""
