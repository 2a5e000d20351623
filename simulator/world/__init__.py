"""The world: who the users and songs are and how users answer what they are shown.

* :mod:`~simulator.world.world`: :class:`World`, the ground truth and the responses, and
  :class:`WorldView`, what an agent may see;
* :mod:`~simulator.world.population`: drawing users and songs, their features and arrivals;
* :mod:`~simulator.world.behavior`: the response to one song and its expectation;
* :mod:`~simulator.world.sessions`: live sessions and how one step changes them;
* :mod:`~simulator.world.retention`: who opens the app each day, and when;
* :mod:`~simulator.world.noise`: common random numbers keyed by user, day and step;
* :mod:`~simulator.world.numpy_kernels`: numpy's SIMD dispatch pinned, so the draws are
  the same on any x86-64.

Nothing here knows about arms, clocks or files: that is :mod:`simulator.engine`.
``from simulator.world import World`` keeps working: the package re-exports its two classes.
"""

from __future__ import annotations

from simulator.world.world import World, WorldView

__all__ = ["World", "WorldView"]
