"""The ``adasim`` console script: pin numpy's dispatch, then run the command line.

numpy fixes its code paths when it is imported (:mod:`simulator.world.numpy_kernels`), so a
process that has imported it cannot change them any more. The console script therefore
restarts itself once, ``python -m adasim.console ARGS``, with the pinned environment;
the restarted process (and every worker it starts) finds the variable set and runs
:func:`adasim.cli.main`. With the environment already pinned, or after the opt-out, there
is no restart.
"""

from __future__ import annotations

import os
import sys

from simulator.world.numpy_kernels import numpy_environment


def main() -> None:
    """Entry point of the ``adasim`` console script."""
    env = numpy_environment()
    if env is not None:
        os.execve(sys.executable, [sys.executable, "-m", "adasim.console", *sys.argv[1:]], env)
    from adasim.cli import main as cli_main

    raise SystemExit(cli_main())


if __name__ == "__main__":
    main()
