"""adasim, the application: the command line, the composition root and the jobs.

The command line (:mod:`adasim.cli`, one module per subcommand in :mod:`adasim.commands`,
started by the ``adasim`` console script, :mod:`adasim.console`), the composition root
(:mod:`adasim.registry`, which builds each arm's recommender from its config) and the jobs
(:mod:`adasim.jobs`: a run's analysis, off-policy evaluation, offline comparison, sweeps)
built from the four packages ``simulator``, ``agents``, ``adaf2m2`` and ``analysis``. It is
the only package that imports them together. Importing it imports nothing heavy.
"""

from __future__ import annotations

__all__: list[str] = []
