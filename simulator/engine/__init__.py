"""The engine: running a world with agents in it, and everything a run writes.

* :mod:`~simulator.engine.engine`: :class:`Engine`, one simpy clock and numpy batches;
* :mod:`~simulator.engine.experiment`: the A/B experiment (history, pre-period, arms, twins);
* :mod:`~simulator.engine.history`: the logged past before day 0;
* :mod:`~simulator.engine.assignment`: users to arms by a salted hash;
* :mod:`~simulator.engine.simulate`: a world-only run with a built-in policy;
* :mod:`~simulator.engine.eventlog` and :mod:`~simulator.engine.summary`: the log and its
  long-tail summary;
* :mod:`~simulator.engine.checkpoint` and :mod:`~simulator.engine.run_folder`: resuming
  after a kill, in folders adasim owns;
* :mod:`~simulator.engine.process_pool`, :mod:`~simulator.engine.process_worker` and
  :mod:`~simulator.engine.threads`: worker processes and thread pinning.

``from simulator.engine import Engine`` keeps working: the package re-exports it.
"""

from __future__ import annotations

from simulator.engine.engine import Engine

__all__ = ["Engine"]
