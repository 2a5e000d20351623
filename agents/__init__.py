"""Recommender agents: base models, two-stage serving and streaming learners (torch).

Agents implement :class:`simulator.types.Recommender`; their ranking models may be wrapped
by a training framework from :mod:`adaf2m2`.
"""

from __future__ import annotations

__all__: list[str] = []
