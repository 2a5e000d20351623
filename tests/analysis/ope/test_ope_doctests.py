"""Run the examples in the ope modules' docstrings (the default suite collects only tests/)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "analysis.ope.bootstrap",
    "analysis.ope.diagnostics",
    "analysis.ope.ips",
    "analysis.ope.reward_model",
    "analysis.ope.sparse",
    "analysis.ope.synthetic",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
