"""AdaF²M²: feature mask and state-aware adapter, a model-agnostic training framework.

Wraps any base model that exposes ``embed`` and ``head``
(:class:`adaf2m2.protocol.WrappableModel`). Imports only torch and numpy.
"""

from __future__ import annotations

from adaf2m2.protocol import COUNT_COLUMNS, FeatureBatch, WrappableModel

__all__ = ["COUNT_COLUMNS", "FeatureBatch", "WrappableModel"]
