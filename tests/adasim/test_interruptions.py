"""Runs survive any kill: orphan-free workers, a resume that succeeds at the first try and
ends byte for byte like an uninterrupted run, damaged checkpoints set aside, Ctrl-C to the
whole group ends the run with status 130.

Each test drives the real command line in a subprocess on a tiny world (a few seconds a
day). Checked by hand that the SIGKILL test fails on the earlier ``multiprocessing.Pool``
workers: they outlived the parent and the first resume crashed on a missing staging file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.fingerprint import fingerprint
from simulator.engine.experiment import RunLayout
from tests.adasim.tiny_worlds import TEST_SCALE

ROOT = Path(__file__).resolve().parents[2]
ADASIM = [sys.executable, "-m", "adasim.console"]

TINY = (
    """
name = "tiny"
seed = 5

[world]
n_users = 600
n_items = 300
new_users_per_day = 20.0
new_items_per_day = 5.0
"""
    + TEST_SCALE
    + """
[engine]
progress = false

[experiment]
pre_days = 1
days = 3
workers = 3

[arms.control]
framework = "none"
n_candidates = 10
hidden_dims = [16]
train_every_minutes = 240

[arms.treatment]
framework = "adaf2m2"
n_candidates = 10
hidden_dims = [16]
train_every_minutes = 240
"""
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def uninterrupted(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "run"
    done = subprocess.run(
        [*ADASIM, "run", str(tiny), "--out", str(out), "--no-progress", "--workers", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


def _event_bytes(root: Path) -> dict[str, bytes]:
    files = [*root.glob("events/*.parquet"), *root.glob("twin/*/events/*.parquet")]
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(files)}


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                kids = {int(t) for t in (task / "children").read_text().split()}
            except FileNotFoundError:
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _default_sigint() -> None:
    # A test run started in the background by a non-interactive shell (`make test &`, a CI
    # runner) inherits SIGINT ignored, and so would the command: a terminal's job has it at
    # its default, which is what these tests mean to send Ctrl-C to.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(tiny: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ADASIM, "run", str(tiny), "--out", str(out), "--no-progress"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job has
        preexec_fn=_default_sigint,
    )


def _wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)
    assert condition(), "timed out"  # type: ignore[operator]


def _workers_running(proc: subprocess.Popen[str]) -> set[int]:
    return {
        p
        for p in _descendants(proc.pid)
        if b"simulator.engine.process_worker" in Path(f"/proc/{p}/cmdline").read_bytes()
    }


def _resume(tiny: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ADASIM, "run", str(tiny), "--out", str(out), "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_sigkill_of_the_parent_alone_kills_its_workers_and_one_resume_recovers(
    tiny: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    proc = _start(tiny, out)
    try:
        # Kill when the variants are mid-run: workers up and a day of the twins logged.
        _wait_for(lambda: len(_workers_running(proc)) == 3, 300)
        workers = _workers_running(proc)
        # A finished day segment of a twin: a staged file lives only between its log's
        # close and its move, a window a poll on a loaded machine can miss.
        _wait_for(lambda: any(out.glob("twin/*/events/part-d*.parquet")), 300)
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, not its group
        proc.wait(timeout=30)
        _wait_for(lambda: not [w for w in workers if _alive(w)], 10)
    finally:
        if proc.poll() is None:
            proc.kill()
    resumed = _resume(tiny, out)
    assert resumed.returncode == 0, resumed.stderr  # at the first try
    assert _event_bytes(out) == _event_bytes(uninterrupted)
    assert fingerprint(out) == fingerprint(uninterrupted)


def test_sigint_to_the_group_exits_130_within_seconds(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    proc = _start(tiny, out)
    try:
        _wait_for(lambda: len(_workers_running(proc)) == 3, 300)
        workers = _workers_running(proc)
        # What `timeout -s INT` and a terminal's Ctrl-C do: the parent, then its group.
        os.kill(proc.pid, signal.SIGINT)
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        status = proc.wait(timeout=20)
        assert status == 130, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() - t0 < 10
        _wait_for(lambda: not [w for w in workers if _alive(w)], 10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_damaged_checkpoints_fall_back_to_the_newest_intact_one(
    tiny: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "damaged"
    first = subprocess.run(
        [
            *ADASIM,
            "run",
            str(tiny),
            "--out",
            str(out),
            "--no-progress",
            "--workers",
            "1",
            "--keep-checkpoints",
            "all",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    layout = RunLayout(out)
    # As if the run had been stopped at the end of its last day, with that day's
    # checkpoint of the A/B run cut short and the fork (the twins' start) garbled.
    for variant in ("ab", "twin_control", "twin_treatment"):
        layout.done(variant).unlink()
    newest = sorted(layout.checkpoints("ab").glob("day-*.pkl"))[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    for path in layout.checkpoints("twin_control").glob("day-*.pkl"):
        path.unlink()
    layout.fork().write_bytes(b"not a pickle")
    resumed = _resume(tiny, out)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{newest.name}.corrupt, resuming from" in resumed.stderr
    assert "fork.pkl.corrupt, redoing the pre-period" in resumed.stderr
    assert (newest.parent / f"{newest.name}.corrupt").is_file()
    assert _event_bytes(out) == _event_bytes(uninterrupted)
    assert fingerprint(out) == fingerprint(uninterrupted)
