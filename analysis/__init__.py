"""Analysis of event logs: per-user metrics, A/B statistics, offline metrics, OPE, bias, reports.

Works on any event log with the documented columns (simulated or real); imports neither
the simulator nor the agents, and no torch.
"""

from __future__ import annotations

__all__: list[str] = []
