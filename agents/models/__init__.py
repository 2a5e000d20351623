"""Base recommendation models, one per file, each split into ``embed`` and ``head``."""

from __future__ import annotations

__all__: list[str] = []
