"""The exceptions adaf2m2 raises on purpose: one root, each subclassing the builtin it refines.

adaf2m2 sits below ``agents`` and ``simulator`` in the dependency graph, so it cannot use
``simulator.errors``; its root subclasses :class:`ValueError` directly, which is what every
one of its checks refines (a value that breaks a rule).
"""

from __future__ import annotations


class FrameworkError(ValueError):
    """Root of every error that adaf2m2 raises on purpose."""


class FrameworkConfigError(FrameworkError):
    """A configuration value breaks a rule.

    The message names the key, the value and the rule, e.g.
    ``AdaF2M2Config.k == 0, must be >= 1``.
    """


class BaseModelError(FrameworkError):
    """The wrapped base model or a batch does not fit the protocol (shapes, fields)."""
