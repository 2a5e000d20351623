"""Entry point of one worker process: ``python -m simulator.engine.process_worker JOB RESULT``.

Started by :func:`simulator.engine.process_pool.map_in_processes`. It reads ``(module, name)``,
the job's argument and the parent's pid from the pickle ``JOB``, binds itself to the parent
(:func:`~simulator.engine.process_pool.die_with_parent`), imports the function by name, calls it and
writes ``("ok", result)`` or ``("error", exception)`` to ``RESULT`` (written to a temporary
name and renamed, so a killed worker leaves no half-written result). ``Ctrl-C`` ends it with
status 130 and no traceback: the parent reports the interruption once.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

from simulator.engine.process_pool import die_with_parent
from simulator.errors import AdasimError, SimulationError


def _write(path: Path, outcome: tuple[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot be pickled: keep its text
        status, value = outcome
        data = pickle.dumps((status, SimulationError(f"{type(value).__name__}: {value}")))
    tmp.write_bytes(data)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    """Run the job of ``argv = [JOB, RESULT]``; returns the exit status."""
    job_path, result_path = Path(argv[0]), Path(argv[1])
    with open(job_path, "rb") as f:
        (module, name), job, parent_pid = pickle.load(f)
    die_with_parent(parent_pid)
    try:
        fn = getattr(importlib.import_module(module), name)
        result = fn(job)
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        # The parent re-raises the exception. An unexpected one also leaves its traceback
        # on stderr; adasim's own errors are one line, which the parent prints.
        if not isinstance(err, AdasimError):
            traceback.print_exc(file=sys.stderr)
        _write(result_path, ("error", err))
        return 1
    _write(result_path, ("ok", result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
