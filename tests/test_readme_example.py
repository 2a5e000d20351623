"""The README's library example, saved as a script and run with ``python script.py``.

Exactly as printed: no ``if __name__ == "__main__":`` guard. With the earlier
``multiprocessing`` workers this script respawned its workers without end (each spawned
worker re-imported the script and tried to start a pool of its own).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def library_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Library") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README's Library section has no python block"
    return match.group(1)


def test_library_example_runs_as_a_script(tmp_path: Path) -> None:
    code = library_example()
    assert "__main__" not in code  # the example as a user copies it
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bootstrapping phase" not in done.stderr
    assert done.stdout.splitlines()[0].startswith("State")
    assert "Overall" in done.stdout
    assert (tmp_path / "runs" / "quick-3" / "report.md").is_file()
