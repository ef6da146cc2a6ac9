"""Swarm logic over value snapshots: bitfields, the piece picker, the choker (BEP 3).

Nothing here knows about connections or sockets: callers pass piece sets, peer
keys, rates and a random generator, and get decisions back, so every policy can
be tested alone and run unchanged under the simulator.
"""
