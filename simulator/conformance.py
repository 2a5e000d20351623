"""``check_recommender``: does an agent keep the :class:`~simulator.types.Recommender` contract?

A conformance suite in the manner of Gymnasium's ``check_env``: it serves synthetic
requests of a world to copies of the agent and checks what the engine and off-policy
evaluation rely on. Each check can fail on its own, and the error names every one that did.

* ``deterministic``: two copies of the agent, given the same requests, the same feedback
  and generators with the same seed, recommend the same items with the same ``pscore``.
* ``pscore``: ``pscore`` has one finite value per request in ``(0, 1]``; where the agent
  also returns ``candidates`` and ``candidate_probs``, each row sums to 1 and the chosen
  item's probability among the candidates is its ``pscore`` (exact propensities).
* ``catalogue``: one integer item per request, in ``[0, n_items)``, also when the
  catalogue is smaller than the world's.
* ``batch_size``: the same requests served in one batch or split into smaller batches get
  the same propensities: a request's ``pscore`` of an item may not depend on which other
  requests share its batch. The engine does not promise that the random stream is consumed
  per request, so the items drawn may differ; where they agree, their ``pscore`` must agree,
  and an agent with ``action_distribution(user_ids, n_items[, requests])`` (what OPE
  replays; :mod:`simulator.action_distribution`) must give every request the same
  candidates and probabilities in either case.

Example:
    >>> from simulator.config import WorldConfig
    >>> from simulator.policies import RandomPolicy
    >>> from simulator.world.world import World
    >>> world = World.build(WorldConfig(n_users=50, n_items=30), 1, 0)
    >>> check_recommender(RandomPolicy(), world.observable).passed
    True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from simulator.action_distribution import action_distribution_of
from simulator.errors import AdasimError
from simulator.types import (
    FeedbackBatch,
    ObservableWorld,
    Recommendation,
    Recommender,
    RequestBatch,
)

CheckName = Literal["deterministic", "pscore", "catalogue", "batch_size"]
CHECKS: tuple[CheckName, ...] = ("deterministic", "pscore", "catalogue", "batch_size")
"""The checks of :func:`check_recommender`, in the order they run."""

_RTOL = 1e-5
"""Relative tolerance of ``batch_size``: a batched matrix product in float32 may round
differently from the same rows in a smaller batch."""


class ConformanceError(AdasimError, AssertionError):
    """An agent broke the :class:`~simulator.types.Recommender` contract.

    Attributes:
        report: The full :class:`ConformanceReport`, passed checks included.
    """

    def __init__(self, report: ConformanceReport) -> None:
        failed = [c for c in report.checks if not c.passed]
        lines = [f"{report.agent} fails {len(failed)} of {len(report.checks)} checks:"]
        lines += [f"  {c.name}: {c.message}" for c in failed]
        super().__init__("\n".join(lines))
        self.report = report


@dataclass(frozen=True)
class CheckResult:
    """One check of :func:`check_recommender`.

    Attributes:
        name: Which check (see :data:`CHECKS`).
        passed: Whether the agent kept that part of the contract.
        message: Why it failed (the first violation found), ``""`` if it passed.
    """

    name: CheckName
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class ConformanceReport:
    """Every check of :func:`check_recommender` on one agent.

    Attributes:
        agent: ``repr`` of the agent checked (its type name if ``repr`` is the default).
        checks: One result per check, in the order of :data:`CHECKS`.
        n_requests: Requests per synthetic batch.
        seed: The seed the requests and generators came from.
    """

    agent: str
    checks: tuple[CheckResult, ...]
    n_requests: int
    seed: int

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One ``{"name", "passed", "message"}`` record per check."""
        return [{"name": c.name, "passed": c.passed, "message": c.message} for c in self.checks]

    def __str__(self) -> str:
        width = max(len(c.name) for c in self.checks)
        rows = [
            f"{c.name:<{width}}  {'ok' if c.passed else 'FAIL ' + c.message}" for c in self.checks
        ]
        return "\n".join([f"check_recommender({self.agent})", *rows])


class _Violation(Exception):
    """One broken rule inside a check (turned into a failed :class:`CheckResult`)."""


def _requests(
    world: ObservableWorld, n_items: int, n_requests: int, rng: np.random.Generator, minute: int
) -> RequestBatch:
    n_users = world.n_users_at(minute)
    return RequestBatch(
        minute=minute,
        day=minute // 1440,
        arm="checked",
        user_ids=rng.integers(0, n_users, size=n_requests, dtype=np.int64),
        session_ids=np.arange(n_requests, dtype=np.int64),
        steps=rng.integers(0, 5, size=n_requests, dtype=np.int64),
        n_items=n_items,
    )


def _feedback(
    world: ObservableWorld, requests: RequestBatch, rec: Recommendation, rng: np.random.Generator
) -> FeedbackBatch:
    """A made-up response to ``rec`` (the checker has no ground truth, nor needs one)."""
    n = len(requests)
    seconds = world.item_seconds(rec.item_ids)
    finish = rng.random(n) < 0.5
    listen = np.where(finish, seconds, seconds * rng.random(n))
    return FeedbackBatch(
        requests=requests,
        recommendation=rec,
        listen_seconds=listen,
        item_seconds=seconds,
        finish=finish,
        skip=~finish & (rng.random(n) < 0.5),
        like=finish & (rng.random(n) < 0.2),
        comment=finish & (rng.random(n) < 0.05),
        dislike=~finish & (rng.random(n) < 0.05),
    )


def _serve(agent: Recommender, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
    rec = agent.recommend(requests, rng)
    if not isinstance(rec, Recommendation):
        raise _Violation(f"recommend returned a {type(rec).__name__}, must return a Recommendation")
    return rec


def _check_catalogue(rec: Recommendation, requests: RequestBatch) -> None:
    items = np.asarray(rec.item_ids)
    n = len(requests)
    if items.shape != (n,):
        raise _Violation(f"item_ids has shape {items.shape}, must be ({n},), one per request")
    if items.dtype.kind not in "iu":
        raise _Violation(f"item_ids has dtype {items.dtype}, must be an integer dtype")
    bad = np.flatnonzero((items < 0) | (items >= requests.n_items))
    if bad.size:
        raise _Violation(
            f"item_ids[{bad[0]}] == {int(items[bad[0]])}, must be in [0, {requests.n_items}) "
            f"(the items released so far, requests.n_items); {bad.size} of {n} outside"
        )


def _check_pscore(rec: Recommendation, requests: RequestBatch) -> None:
    p = np.asarray(rec.pscore, dtype=np.float64)
    n = len(requests)
    if p.shape != (n,):
        raise _Violation(f"pscore has shape {p.shape}, must be ({n},), one per request")
    bad = np.flatnonzero(~(np.isfinite(p) & (p > 0) & (p <= 1)))
    if bad.size:
        raise _Violation(f"pscore[{bad[0]}] == {float(p[bad[0]])!r}, must be in (0, 1]")
    if rec.candidates is None or rec.candidate_probs is None:
        return
    cand, probs = np.asarray(rec.candidates), np.asarray(rec.candidate_probs)
    if cand.shape != probs.shape or cand.ndim != 2 or cand.shape[0] != n:
        raise _Violation(
            f"candidates {cand.shape} and candidate_probs {probs.shape} must both be (B, n_cand)"
        )
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(~np.isclose(sums, 1.0, rtol=0, atol=1e-9))
    if bad.size:
        raise _Violation(
            f"candidate_probs[{bad[0]}] sums to {float(sums[bad[0]])!r}, must sum to 1"
        )
    chosen = np.where(cand == np.asarray(rec.item_ids)[:, None], probs, 0.0).sum(axis=1)
    bad = np.flatnonzero(~np.isclose(chosen, p, rtol=1e-9, atol=0))
    if bad.size:
        raise _Violation(
            f"pscore[{bad[0]}] == {float(p[bad[0]])!r}, but its item has probability "
            f"{float(chosen[bad[0]])!r} in candidate_probs: pscore must be the exact probability"
        )


def _same(a: Recommendation, b: Recommendation) -> bool:
    return bool(np.array_equal(a.item_ids, b.item_ids) and np.array_equal(a.pscore, b.pscore))


def _check_deterministic(
    agent: Recommender, world: ObservableWorld, requests: list[RequestBatch], seed: int
) -> None:
    copies = (_copy(agent, world), _copy(agent, world))
    answers: list[list[Recommendation]] = [[], []]
    for i, twin in enumerate(copies):
        rng = np.random.default_rng(seed)
        feedback_rng = np.random.default_rng(seed + 1)
        for req in requests:
            rec = _serve(twin, req, rng)
            answers[i].append(rec)
            twin.observe(_feedback(world, req, rec, feedback_rng))
    for round_, (a, b) in enumerate(zip(*answers, strict=True)):
        if not _same(a, b):
            raise _Violation(
                f"two copies given the same requests, feedback and seed differ in batch "
                f"{round_}: randomness must come only from the rng argument (no global or "
                "unseeded generator, no clock)"
            )


def _check_batch_size(
    agent: Recommender, world: ObservableWorld, requests: RequestBatch, seed: int
) -> None:
    whole = _serve(_copy(agent, world), requests, np.random.default_rng(seed))
    n = len(requests)
    for size in sorted({max(1, n // 2), 1}, reverse=True):
        split_agent = _copy(agent, world)
        rng = np.random.default_rng(seed)
        for start in range(0, n, size):
            rows = slice(start, start + size)
            rec = _serve(split_agent, requests.take(rows), rng)
            same_item = np.asarray(rec.item_ids) == np.asarray(whole.item_ids)[rows]
            p_whole = np.asarray(whole.pscore)[rows][same_item]
            p_part = np.asarray(rec.pscore)[same_item]
            bad = np.flatnonzero(~np.isclose(p_part, p_whole, rtol=_RTOL, atol=0))
            if bad.size:
                row = start + int(np.flatnonzero(same_item)[bad[0]])
                raise _Violation(
                    f"request {row} gets pscore {float(p_whole[bad[0]])!r} for item "
                    f"{int(whole.item_ids[row])} in a batch of {n} but {float(p_part[bad[0]])!r} "
                    f"in a batch "
                    f"of {size}: a request's propensities must not depend on its batch"
                )
    replay = _copy(agent, world)
    if not callable(getattr(replay, "action_distribution", None)):
        return
    users = requests.user_ids
    cand, probs = action_distribution_of(replay, requests)
    half = max(1, users.size // 2)
    parts = [
        action_distribution_of(replay, requests.take(slice(None, half))),
        action_distribution_of(replay, requests.take(slice(half, None))),
    ]
    cand_split = np.concatenate([np.asarray(c) for c, _ in parts])
    probs_split = np.concatenate([np.asarray(p) for _, p in parts])
    if not (
        np.array_equal(np.asarray(cand), cand_split)
        and np.allclose(np.asarray(probs), probs_split, rtol=_RTOL, atol=1e-12)
    ):
        raise _Violation(
            f"action_distribution of {users.size} users differs from the same users in "
            f"batches of {half}: each row must depend on its own request only"
        )


def _copy(agent: Recommender, world: ObservableWorld) -> Recommender:
    """A deep copy of ``agent`` that shares the world (as checkpoints do: never copied)."""
    memo: dict[int, Any] = {id(world): world}
    truth = getattr(world, "_world", None)  # a WorldView's world, which the oracle holds
    if truth is not None:
        memo[id(truth)] = truth
    return copy.deepcopy(agent, memo)


def _agent_name(agent: object) -> str:
    text = repr(agent)
    return type(agent).__name__ if text.startswith("<") else text


def check_recommender(
    agent: Recommender,
    world: ObservableWorld,
    *,
    n_requests: int = 64,
    n_batches: int = 3,
    seed: int = 0,
    minute: int = 0,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check that ``agent`` keeps the :class:`~simulator.types.Recommender` contract.

    The agent is deep-copied for every check, the world shared (it must be copyable, as
    the engine pickles it into checkpoints); ``agent`` itself is left as it was. Requests come from ``world``
    at ``minute``: the users registered by then, and a catalogue of ``n_items_at(minute)``
    items and, for ``catalogue``, of half of it (a catalogue that is still growing).

    Args:
        agent: The recommender, as its factory built it (fresh or trained).
        world: The observable world it was built for (``world.observable``).
        n_requests: Requests per synthetic batch (>= 2, so that a batch can be split).
        n_batches: Batches of requests and feedback served for ``deterministic``.
        seed: Seed of the requests, the made-up feedback and the agent's generators.
        minute: Simulated minute of the requests.
        raise_on_failure: Raise :class:`ConformanceError` if a check fails (else return
            the report with the failures in it).

    Returns:
        The :class:`ConformanceReport` of every check.

    Raises:
        ConformanceError: a check failed (and ``raise_on_failure``); the message has one
            line per failed check with the first violation it found.
        ValueError: ``n_requests < 2`` or ``n_batches < 1``.

    Example:
        >>> import adasim
        >>> from simulator.config import WorldConfig
        >>> from simulator.policies import PopularPolicy
        >>> from simulator.world.world import World
        >>> world = World.build(WorldConfig(n_users=80, n_items=40, dim=8), 2, 7)
        >>> adasim.check_recommender(PopularPolicy(), world.observable).passed
        True
    """
    if n_requests < 2:
        raise ValueError(f"n_requests == {n_requests}, must be >= 2 (a batch to split)")
    if n_batches < 1:
        raise ValueError(f"n_batches == {n_batches}, must be >= 1")
    rng = np.random.default_rng(seed)
    n_items = world.n_items_at(minute)
    requests = [_requests(world, n_items, n_requests, rng, minute) for _ in range(n_batches)]
    smaller = _requests(world, max(1, n_items // 2), n_requests, rng, minute)

    def serve_all() -> list[tuple[Recommendation, RequestBatch]]:
        twin = _copy(agent, world)
        gen = np.random.default_rng(seed)
        return [(_serve(twin, req, gen), req) for req in (requests[0], smaller)]

    def deterministic() -> None:
        _check_deterministic(agent, world, requests, seed)

    def pscore() -> None:
        for rec, req in serve_all():
            _check_pscore(rec, req)

    def catalogue() -> None:
        for rec, req in serve_all():
            _check_catalogue(rec, req)

    def batch_size() -> None:
        _check_batch_size(agent, world, requests[0], seed)

    results = []
    for name, check in zip(CHECKS, (deterministic, pscore, catalogue, batch_size), strict=True):
        try:
            check()
        except _Violation as err:
            results.append(CheckResult(name, False, str(err)))
        except Exception as err:  # the agent raised: that check fails, the others still run
            results.append(CheckResult(name, False, f"raised {type(err).__name__}: {err}"))
        else:
            results.append(CheckResult(name, True))
    report = ConformanceReport(_agent_name(agent), tuple(results), n_requests, seed)
    if raise_on_failure and not report.passed:
        raise ConformanceError(report)
    return report


__all__ = [
    "CHECKS",
    "CheckName",
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "check_recommender",
]
