"""The analysis package's exceptions: one root that subclasses the builtin it refines.

``analysis`` imports none of the other adasim packages, so it has its own root rather than
``simulator.errors.AdasimError``. Messages name the parameter, its value and the rule, e.g.
``alpha == 1.5, must be in (0, 1)``.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """Root of every error that ``analysis`` raises on purpose (bad input to an analysis)."""


class SchemaError(AnalysisError):
    """A table lacks a required column, or a column has the wrong type."""


class InsufficientDataError(AnalysisError):
    """Too few users (or too little variance) to compute the requested statistic."""


__all__ = ["AnalysisError", "InsufficientDataError", "SchemaError"]
