"""The contract between the world and the agents that recommend in it.

The world calls agents only through :class:`Recommender`. An agent sees the observable
side of the world (:class:`ObservableWorld`: feature tables, arrival order, item lengths)
and the feedback of its own recommendations (:class:`FeedbackBatch`); it never sees a
ground-truth (``true_*``) column.

Ids are dense and follow arrival order: at any minute the users ``0 .. n_users - 1`` and the
items ``0 .. n_items - 1`` have arrived, so "the catalogue so far" is just a count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

FieldOwner = Literal["user", "item"]
FieldKind = Literal["id", "meta"]


@dataclass(frozen=True)
class FieldSpec:
    """One categorical input field that agents may use.

    Attributes:
        name: Field name, e.g. ``"user_id"``, ``"age_band"``, ``"genre"``, ``"artist_id"``.
        owner: Whether the value belongs to the user or to the item of a request.
        kind: ``"id"`` for identifiers (user, item, artist), ``"meta"`` for characteristics.
        vocab_size: Number of distinct values at the end of the world (ids grow with
            arrivals; an agent that must not peek at the future sizes its tables lazily).
    """

    name: str
    owner: FieldOwner
    kind: FieldKind
    vocab_size: int


@runtime_checkable
class ObservableWorld(Protocol):
    """What an agent may know about the world: features, not tastes."""

    @property
    def user_fields(self) -> tuple[FieldSpec, ...]:
        """Fields of a user, in the column order of :meth:`user_features`."""
        ...

    @property
    def item_fields(self) -> tuple[FieldSpec, ...]:
        """Fields of an item, in the column order of :meth:`item_features`."""
        ...

    def user_features(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Categorical codes, shape ``(len(user_ids), len(user_fields))``; column 0 is the id."""
        ...

    def item_features(self, item_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Categorical codes, shape ``(len(item_ids), len(item_fields))``; column 0 is the id."""
        ...

    def item_seconds(self, item_ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """Song lengths in seconds."""
        ...

    def n_users_at(self, minute: int) -> int:
        """Number of users registered by ``minute`` (ids below it exist)."""
        ...

    def n_items_at(self, minute: int) -> int:
        """Number of items released by ``minute`` (ids below it can be recommended)."""
        ...

    def user_registration_day(self, user_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Day on which each user registered (negative: before the simulation started)."""
        ...


@dataclass(frozen=True)
class RequestBatch:
    """One row per session step that is being served now.

    Attributes:
        minute: Simulated minute (the simpy clock) of the batch.
        day: ``minute // 1440``.
        arm: Name of the arm whose agent serves these requests.
        user_ids: ``(B,)`` int64, the users to serve.
        session_ids: ``(B,)`` int64, globally unique session ids.
        steps: ``(B,)`` int64, position of this song within its session (0-based).
        n_items: Items released so far; a recommendation must lie in ``[0, n_items)``.
    """

    minute: int
    day: int
    arm: str
    user_ids: NDArray[np.int64]
    session_ids: NDArray[np.int64]
    steps: NDArray[np.int64]
    n_items: int

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])

    def take(self, rows: NDArray[np.int64] | slice) -> RequestBatch:
        """The requests at ``rows`` (same minute, arm and catalogue)."""
        return RequestBatch(
            minute=self.minute,
            day=self.day,
            arm=self.arm,
            user_ids=self.user_ids[rows],
            session_ids=self.session_ids[rows],
            steps=self.steps[rows],
            n_items=self.n_items,
        )


@dataclass(frozen=True)
class Recommendation:
    """An agent's answer to a :class:`RequestBatch`.

    Attributes:
        item_ids: ``(B,)`` int64, the chosen song per request.
        pscore: ``(B,)`` float64, the exact probability with which the policy chose it.
        candidates: Optional ``(B, n_cand)`` int64, the items the policy chose among (OPE).
        candidate_probs: Optional ``(B, n_cand)`` float64, their probabilities (rows sum to 1).
    """

    item_ids: NDArray[np.int64]
    pscore: NDArray[np.float64]
    candidates: NDArray[np.int64] | None = None
    candidate_probs: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class FeedbackBatch:
    """What an agent may learn from: its requests, its choice and the observed response.

    No ground-truth column is here by design. Arrays are ``(B,)``.

    ``training_weight`` is not feedback but the experiment's instruction of how much each
    row should weigh in the learner's loss: ``None`` (every row weighs 1) except in the
    A/B run of the ``weighted`` training-data design (``docs/methods/training_data.md``),
    which hands every arm's rows to every learner with the weights of its own arm. An agent
    that trains declares that it applies them with ``accepts_training_weights = True``.
    """

    requests: RequestBatch
    recommendation: Recommendation
    listen_seconds: NDArray[np.float64]
    item_seconds: NDArray[np.float64]
    finish: NDArray[np.bool_]
    skip: NDArray[np.bool_]
    like: NDArray[np.bool_]
    comment: NDArray[np.bool_]
    dislike: NDArray[np.bool_]
    training_weight: NDArray[np.float64] | None = None


@runtime_checkable
class Recommender(Protocol):
    """A policy that serves requests and may learn from its own feedback."""

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        """Choose one item per request; randomness comes only from ``rng``."""
        ...

    def observe(self, feedback: FeedbackBatch) -> None:
        """Receive the feedback of earlier recommendations (may do nothing)."""
        ...


# The event log's columns (DESIGN section 6): the contract between simulator and analysis.
EVENT_COLUMNS: dict[str, str] = {
    "minute": "int64",
    "day": "int32",
    "user_id": "int64",
    "item_id": "int64",
    "arm": "string",
    "session_id": "int64",
    "step": "int32",
    "pscore": "float64",
    "listen_seconds": "float64",
    "item_seconds": "float64",
    "finish": "bool",
    "skip": "bool",
    "like": "bool",
    "comment": "bool",
    "dislike": "bool",
    "true_finish_prob": "float64",
    "true_noise_skip": "bool",
}
"""Column name -> dtype of every event file. ``true_*`` columns are ground truth."""

# users.parquet columns: one row per user.
USER_COLUMNS: dict[str, str] = {
    "user_id": "int64",
    "arm": "string",
    "registration_day": "int32",
    "cohort": "string",
}
"""Required columns of ``users.parquet``; user meta features follow as extra int columns."""

__all__ = [
    "EVENT_COLUMNS",
    "USER_COLUMNS",
    "FeedbackBatch",
    "FieldKind",
    "FieldOwner",
    "FieldSpec",
    "ObservableWorld",
    "Recommendation",
    "Recommender",
    "RequestBatch",
]
