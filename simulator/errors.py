"""The simulator's exceptions: one root, each subclassing the builtin it refines."""

from __future__ import annotations


class AdasimError(Exception):
    """Root of every error that adasim raises on purpose."""


class ConfigError(AdasimError, ValueError):
    """A configuration value breaks a rule.

    The message names the key path, the value and the rule, e.g.
    ``world.n_users == -3, must be > 0 (in configs/x.toml)``.
    """


class SimulationError(AdasimError, RuntimeError):
    """The simulation reached a state it cannot continue from (e.g. a policy broke its contract)."""
