"""A deterministic discrete-event swarm simulator over the real core (DESIGN.md ``sim/``).

The simulator runs the very :class:`~bitswarm.core.swarm.torrent.TorrentSwarm`
the real peer runs, on a virtual clock, virtual links, a virtual disk and a
virtual tracker, so swarms far larger than one machine can hold show how
close bitswarm comes to the fluid-model bound of Kumar and Ross (2006):
``T_min = max(F/u_s, F/d_min, N*F/(u_s + sum u_i))``.

* :mod:`~bitswarm.sim.engine`: the event heap and the virtual clock;
* :mod:`~bitswarm.sim.links`: per-peer upload and download capacity and latency;
* :mod:`~bitswarm.sim.transport`: messages from one core over the links to another;
* :mod:`~bitswarm.sim.disk` and :mod:`~bitswarm.sim.tracker`: the fake disk and tracker;
* :mod:`~bitswarm.sim.simulation` and :mod:`~bitswarm.sim.peer`: the driver that
  wires the cores together, and its record of each peer;
* :mod:`~bitswarm.sim.stats`: what is measured while the swarm runs;
* :mod:`~bitswarm.sim.scenarios`: flash crowds, arrivals, free riders, super-seeding;
* :mod:`~bitswarm.sim.report` and :mod:`~bitswarm.sim.plots`: the figures.

Nothing here touches a socket, a thread or the wall clock.
"""
