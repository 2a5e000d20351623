"""Worker processes that never outlive their parent and never restart behind its back.

The experiment's variants (the A/B run and the two twins) run in worker processes. Three
things go wrong with the standard pools, and each loses a user's time or data:

* a parent killed by ``SIGKILL`` (the OOM killer, ``kill -9``) runs no clean-up, and the
  workers of a ``multiprocessing`` pool keep simulating: a resumed run then races those
  orphans for the same files;
* ``multiprocessing.Pool`` replaces a worker that dies while starting, forever: a script
  that calls the library without an ``if __name__ == "__main__":`` guard is re-imported by
  every spawned worker and respawns them without end;
* after ``SIGINT`` to the whole process group (``timeout -s INT``, Ctrl-C) a pool's
  helper threads can wait for workers that are already gone.

So each job runs in a fresh interpreter, ``python -m simulator.engine.process_worker``, that imports
the job's function by module name (never the caller's ``__main__``, so no guard is needed).
Each worker asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG`` on Linux)
and also watches its parent's pid, which covers other systems. The parent polls its
workers; when one fails (an exception, or an exit without a result) the others are
terminated and the failure is raised once, without a retry; ``SIGTERM`` and Ctrl-C also
terminate every worker before they propagate. What the workers finished (checkpoints,
complete days) stays on disk for the resume.

:func:`terminating` gives the same guarantee on ``SIGTERM`` / Ctrl-C to a
``ProcessPoolExecutor`` whose results are consumed as they complete (the sweep's process
backend), and :func:`die_with_parent` is the initializer that makes its workers exit with
their parent.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from simulator.errors import SimulationError

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
_GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.1


class Terminated(SystemExit):
    """Raised in the parent on ``SIGTERM`` while workers run (exit status 128 + 15)."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, ``SIGTERM`` raises :class:`Terminated` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process exit as soon as its parent dies (call it first thing in a worker).

    On Linux the kernel sends ``SIGKILL`` when the parent exits (``PR_SET_PDEATHSIG``);
    everywhere a daemon thread also checks twice a second that the parent is still the
    same process, and exits at once when it is not.

    Args:
        parent_pid: The parent's pid as the parent saw it; default ``os.getppid()`` now.
    """
    expected = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watcher below still covers it
    if os.getppid() != expected:  # the parent died before the request above took hold
        os._exit(1)

    def watch() -> None:
        while True:
            if os.getppid() != expected:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _job_reference(fn: Callable[..., Any]) -> tuple[str, str]:
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "." in name or "<" in name:
        raise SimulationError(
            f"worker function {name or fn!r} of module {module!r} cannot run in a worker "
            "process: it must be a module-level function of an importable module"
        )
    return module, name


class _Worker:
    """One job in its own interpreter; its input and result travel through files."""

    def __init__(self, index: int, reference: tuple[str, str], job: Any, scratch: Path) -> None:
        self.index = index
        self.result_path = scratch / f"result-{index}.pkl"
        job_path = scratch / f"job-{index}.pkl"
        with open(job_path, "wb") as f:
            pickle.dump((reference, job, os.getpid()), f, protocol=pickle.HIGHEST_PROTOCOL)
        env = dict(os.environ)
        # The worker imports exactly what the parent can import, wherever it was started.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.engine.process_worker",
                str(job_path),
                str(self.result_path),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
        )

    def outcome(self) -> tuple[str, Any]:
        """``("ok", result)``, ``("error", exception)``; the worker must have exited."""
        if not self.result_path.is_file():
            code = self.process.returncode
            reason = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            return "error", SimulationError(
                f"worker process {self.index} {reason} before it finished its job "
                "(its messages, if any, are above); nothing was retried"
            )
        with open(self.result_path, "rb") as f:
            status, value = pickle.load(f)
        return status, value


def _stop(workers: Sequence[_Worker]) -> None:
    """Terminate every live worker, then kill what is still alive after a grace period."""
    live = [w.process for w in workers if w.process.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + _GRACE_SECONDS
    for p in live:
        try:
            p.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def picklable(obj: object) -> bool:
    """Whether ``obj`` can be sent to a worker (a lambda or a local function cannot)."""
    try:
        pickle.dumps(obj)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def map_in_processes(fn: Callable[[T], R], jobs: Sequence[T], workers: int) -> list[R]:
    """``[fn(job) for job in jobs]`` in at most ``workers`` worker processes, in order.

    Args:
        fn: A module-level function of an importable module (imported by name in the worker).
        jobs: Picklable arguments, one per call.
        workers: Processes at once (at least 1).

    Returns:
        The results in the order of ``jobs``.

    Raises:
        SimulationError: ``fn`` cannot be imported by name, or a worker died without a
            result (the other workers were terminated; nothing is retried).
        Terminated: The parent received ``SIGTERM``; the workers were terminated.
        BaseException: Whatever a job raised (re-raised in the parent), or
            ``KeyboardInterrupt``; the other workers were terminated first.
    """
    if workers < 1:
        raise ValueError(f"workers == {workers}, must be >= 1")
    reference = _job_reference(fn)
    results: dict[int, Any] = {}
    with sigterm_raises(), tempfile.TemporaryDirectory(prefix="adasim-jobs-") as tmp:
        scratch = Path(tmp)
        waiting = list(enumerate(jobs))
        running: list[_Worker] = []
        try:
            while waiting or running:
                while waiting and len(running) < workers:
                    index, job = waiting.pop(0)
                    running.append(_Worker(index, reference, job, scratch))
                finished = [w for w in running if w.process.poll() is not None]
                if not finished:
                    time.sleep(_POLL_SECONDS)
                    continue
                for w in finished:
                    running.remove(w)
                    status, value = w.outcome()
                    if status != "ok":
                        raise value
                    results[w.index] = value
        except BaseException:
            _stop(running)
            raise
    return [results[i] for i in range(len(jobs))]


@contextmanager
def terminating(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """Use ``pool``; on any exception (``SIGTERM`` included) terminate its workers first.

    On a normal exit the pool shuts down as usual (waiting for its workers). Give the pool
    ``initializer=die_with_parent`` (or call it from its initializer) so that its workers
    also exit when the parent is killed outright.
    """
    with sigterm_raises():
        try:
            yield pool
        except BaseException:
            # The executor has no public way to stop running tasks before Python 3.14
            # (terminate_workers); its process table is the only handle on them.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


__all__ = [
    "Terminated",
    "die_with_parent",
    "map_in_processes",
    "picklable",
    "sigterm_raises",
    "terminating",
]
