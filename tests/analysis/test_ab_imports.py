"""The A/B part of analysis imports none of simulator, agents, adaf2m2, and no torch."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "abtest",
    "bias",
    "cuped",
    "errors",
    "figures",
    "harness",
    "metrics",
    "moments",
    "multiple_testing",
    "power",
    "ratio",
    "report",
    "results",
    "schema",
    "segments",
    "sequential",
    "srm",
    "synthetic",
    "ttest",
]


def test_no_forbidden_imports() -> None:
    code = (
        "import sys\n"
        + "".join(f"import analysis.{m}\n" for m in MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'simulator', 'agents', 'adaf2m2'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
