"""Calling an agent's optional ``action_distribution``, the method off-policy evaluation replays.

The contract (docs/agents.md): ``action_distribution(user_ids, n_items)`` returns the
candidates ``(B, n_cand)`` and their probabilities, each row the distribution the agent's
``recommend`` would draw from for that user. An agent whose candidates depend on the
request itself, not only on the user (exploration slots drawn per request, as the
two-stage agent's are), also takes ``requests=``: the logged :class:`RequestBatch` of
those users, so that it rebuilds exactly the candidates it would have had. This module
passes the batch to the agents that take it and only the users to the others.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulator.types import RequestBatch


def takes_requests(distribution: Any) -> bool:
    """Whether an ``action_distribution`` method has a ``requests`` parameter."""
    try:
        return "requests" in inspect.signature(distribution).parameters
    except (TypeError, ValueError):  # a builtin or a C callable: the plain contract
        return False


def action_distribution_of(
    agent: Any, requests: RequestBatch
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``agent.action_distribution`` on the users of ``requests`` (with them, if it takes them)."""
    distribution = agent.action_distribution
    if takes_requests(distribution):
        return distribution(requests.user_ids, requests.n_items, requests=requests)  # type: ignore[no-any-return]
    return distribution(requests.user_ids, requests.n_items)  # type: ignore[no-any-return]


__all__ = ["action_distribution_of", "takes_requests"]
