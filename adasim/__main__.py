"""``python -m adasim ARGS``: the ``adasim`` command where its console script is not on PATH.

It is :func:`adasim.console.main`, so it pins numpy's dispatch by restarting itself once,
exactly as the console script does.
"""

from __future__ import annotations

from adasim.console import main

if __name__ == "__main__":
    main()
