"""Worker processes: results in order, errors re-raised, no orphans after SIGTERM or SIGKILL
of the parent, no restart of a worker that died.

The SIGTERM test fails with a bare ``ProcessPoolExecutor`` (checked by hand): the parent
dies and its workers stay alive; the SIGKILL one failed with the earlier
``multiprocessing.Pool`` workers.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.engine.process_pool import map_in_processes
from simulator.errors import SimulationError

ROOT = Path(__file__).resolve().parents[2]

SLEEPERS = {
    "map_in_processes": """
import time
from simulator.engine.process_pool import map_in_processes

if __name__ == "__main__":
    print("started", flush=True)
    map_in_processes(time.sleep, [300.0, 300.0], 2)
""",
    # The sweep's process backend: an executor whose results are consumed as they come.
    "terminating_executor": """
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from simulator.engine.process_pool import terminating

if __name__ == "__main__":
    print("started", flush=True)
    with terminating(ProcessPoolExecutor(2, mp_context=get_context("spawn"))) as pool:
        for f in [pool.submit(time.sleep, 300.0) for _ in range(2)]:
            f.result()
""",
}


def test_results_in_job_order() -> None:
    assert map_in_processes(math.factorial, [5, 3, 4], 2) == [120, 6, 24]


def test_a_failing_job_is_raised_in_the_parent() -> None:
    with pytest.raises(ValueError, match="negative"):
        map_in_processes(math.factorial, [3, -1], 2)


def test_bad_worker_count() -> None:
    with pytest.raises(ValueError, match="workers == 0"):
        map_in_processes(math.factorial, [3], 0)


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out |= {int(t) for t in text}
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_a_worker_that_dies_is_one_error_and_never_restarted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []
    real_popen = subprocess.Popen

    def counting_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        started.append(args)
        return real_popen(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    # os._exit ends the worker before it can write a result: the worker "crashed".
    with pytest.raises(SimulationError, match="worker process 0 exited with status 3"):
        map_in_processes(os._exit, [3], 1)
    assert len(started) == 1  # no retry


def test_a_function_of_main_is_refused_before_any_worker_starts() -> None:
    def local(x: int) -> int:
        return x

    with pytest.raises(SimulationError, match="must be a module-level function"):
        map_in_processes(local, [1], 1)


# SIGTERM: the parent terminates its workers itself (both pool kinds); SIGKILL: the parent
# runs no clean-up at all, the workers must notice and exit on their own.
CASES = [(kind, signal.SIGTERM) for kind in sorted(SLEEPERS)] + [
    ("map_in_processes", signal.SIGKILL)
]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("kind", "signum"), CASES, ids=lambda c: getattr(c, "name", c))
def test_workers_do_not_outlive_a_terminated_or_killed_parent(
    tmp_path: Path, kind: str, signum: signal.Signals
) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPERS[kind])
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, workers  # the two workers (and maybe a resource tracker)
        os.kill(proc.pid, signum)
        status = proc.wait(timeout=60)
        if signum == signal.SIGTERM:
            assert status == 128 + signal.SIGTERM
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [w for w in workers if _alive(w)], "workers outlived the parent"
    finally:
        if proc.poll() is None:
            proc.kill()
