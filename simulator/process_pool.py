"""Worker processes that never outlive the parent's interruption.

``concurrent.futures.ProcessPoolExecutor`` waits for running jobs when the parent leaves
its ``with`` block on an exception, and a parent killed by ``SIGTERM`` (a scheduler, a
container stop, ``kill``) dies without running any clean-up at all: its workers keep
simulating, and a resumed run would then write the same files as the orphans. Here the
parent turns ``SIGTERM`` into an exception while the jobs run, and any exception
(``KeyboardInterrupt``, ``SIGTERM``, a failing job) terminates every worker before it
propagates. What the workers finished (checkpoints, completed days) stays on disk for the
resume. :func:`map_in_processes` runs a list of jobs so; :func:`terminating` gives the
same guarantee to a ``ProcessPoolExecutor`` whose results are consumed as they complete
(the sweep's process backend).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from types import FrameType
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


def map_in_processes(fn: Callable[[T], R], jobs: Sequence[T], workers: int) -> list[R]:
    """``[fn(job) for job in jobs]`` on ``workers`` spawned processes, in order.

    Args:
        fn: A module-level function (it is pickled by reference).
        jobs: Picklable arguments, one per call.
        workers: Processes (at least 1).

    Returns:
        The results in the order of ``jobs``.

    Raises:
        Terminated: The parent received ``SIGTERM``; the workers were terminated.
        BaseException: Whatever a job raised (re-raised in the parent), or
            ``KeyboardInterrupt``; the workers were terminated first.
    """
    if workers < 1:
        raise ValueError(f"workers == {workers}, must be >= 1")
    with sigterm_raises():
        pool = get_context("spawn").Pool(workers)
        try:
            results = pool.map(fn, jobs, chunksize=1)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
    return results


@contextmanager
def terminating(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """Use ``pool``; on any exception (``SIGTERM`` included) terminate its workers first.

    On a normal exit the pool shuts down as usual (waiting for its workers).
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


__all__ = ["Terminated", "map_in_processes", "sigterm_raises", "terminating"]
