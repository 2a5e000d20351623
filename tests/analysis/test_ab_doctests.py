"""The docstring examples of the A/B modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "bias",
    "cuped",
    "estimand_gap",
    "exposure",
    "harness",
    "multiple_testing",
    "power",
    "ratio",
    "results",
    "sequential",
    "srm",
    "ttest",
    "twin_spread",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"analysis.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"analysis.{name} has no examples"
    assert result.failed == 0
