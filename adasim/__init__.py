"""adasim, the application: the public API, the command line, the composition root, the jobs.

The public API (:mod:`adasim.api`) is what a notebook or a script needs, each function the
library half of the command of the same name, returning a result with ``to_pandas()``:
:func:`load_config`, :func:`run`, :func:`report`, :func:`ope`, :func:`offline`,
:func:`sweep` and :func:`diagnose`; and :func:`check_recommender`, the conformance
checker of one's own agent (``agent = "package.module:factory"`` in a config, see
``docs/agents.md``)::

    import adasim

    result = adasim.run(adasim.load_config("configs/quick.toml", seed=3), "runs/quick-3")
    print(result.table)
    cells = result.to_pandas()

Behind it: the command line (:mod:`adasim.cli`, one module per subcommand in
:mod:`adasim.commands`, started by the ``adasim`` console script, :mod:`adasim.console`),
the composition root (:mod:`adasim.registry`, which builds each arm's recommender from its
config) and the jobs (:mod:`adasim.jobs`: a run's analysis, off-policy evaluation, offline
comparison, sweeps, diagnostics) built from the four packages ``simulator``, ``agents``,
``adaf2m2`` and ``analysis``. It is the only package that imports them together.
Importing it imports nothing heavy: no torch, no agents, no analysis until a function that
needs them is called.

The world as Gymnasium environments, :class:`~adasim.envs.SessionEnv` (one user's
sessions, a song per step) and :class:`~adasim.envs.SessionVectorEnv` (many users in one
batch), live in :mod:`adasim.envs`; they need the ``gym`` extra (``pip install
adasim[gym]``) and are imported on first use of ``adasim.SessionEnv`` or
``adasim.SessionVectorEnv``, so ``import adasim`` works without gymnasium.
"""

from __future__ import annotations

from typing import Any

from adasim.api import diagnose, load_config, offline, ope, report, run, sweep
from simulator.conformance import check_recommender

_ENVS = ("SessionEnv", "SessionVectorEnv")


def __getattr__(name: str) -> Any:
    """``adasim.SessionEnv`` and ``adasim.SessionVectorEnv``, imported when first used."""
    if name in _ENVS:
        from adasim import envs  # needs gymnasium: pip install adasim[gym]

        return getattr(envs, name)
    raise AttributeError(f"module 'adasim' has no attribute {name!r}")


__all__ = [
    "SessionEnv",
    "SessionVectorEnv",
    "check_recommender",
    "diagnose",
    "load_config",
    "offline",
    "ope",
    "report",
    "run",
    "sweep",
]
