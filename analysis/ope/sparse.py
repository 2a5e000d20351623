"""Candidate-set action distributions: per round, a few candidate ids and their probabilities.

A recommender's serving policy chooses among the candidates that retrieval returned, so the
evaluation policy's ``action_dist`` is zero outside a few dozen items of a catalogue of
millions. :class:`SparseActionDist` stores, per round, the candidate item ids and their
probabilities, shape ``(n_rounds, n_cand)`` (or ``(n_rounds, n_cand, len_list)`` for
ranked lists); memory is ``n_rounds x n_cand``, never ``n_rounds x n_catalogue``.

Rows with fewer candidates than ``n_cand`` are padded with the id ``-1`` and probability 0.
The estimators need only two numbers per round from the evaluation policy: the probability
of the logged action, ``pi_e(a_i | x_i)`` (:meth:`SparseActionDist.prob_of`), and the
expectation of the reward model under the policy, ``sum_a pi_e(a | x_i) q(x_i, a)``
(:meth:`SparseActionDist.expectation`), both computed row-wise without densifying.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analysis.errors import AnalysisError
from analysis.ope._checks import (
    SUM_TOLERANCE,
    check_length,
    check_probabilities,
    check_range,
    first_index,
    fmt_index,
)

#: Candidate id used to pad rows with fewer candidates.
PAD_ID = -1


@dataclass(frozen=True, eq=False)
class SparseActionDist:
    """An evaluation policy's action distribution restricted to per-round candidates.

    Attributes:
        candidates: Candidate action (item) ids, int64, shape ``(n_rounds, n_cand)``;
            ``-1`` pads short rows. Ids in a row are distinct.
        probs: Probabilities, shape ``(n_rounds, n_cand, len_list)``; a 2-D array
            ``(n_rounds, n_cand)`` is read as ``len_list == 1``. For every round and
            position they sum to one over the candidates; padded entries are zero.

    Examples:
        >>> dist = SparseActionDist(
        ...     candidates=np.array([[7, 3, -1], [3, 5, 9]]),
        ...     probs=np.array([[0.25, 0.75, 0.0], [0.5, 0.25, 0.25]]),
        ... )
        >>> dist.prob_of(np.array([3, 4])).tolist()
        [0.75, 0.0]
        >>> dist.expectation(np.array([[1.0, 0.0, 9.0], [0.0, 4.0, 8.0]])).tolist()
        [0.25, 3.0]
    """

    candidates: NDArray[np.int64]
    probs: NDArray[np.float64]

    def __post_init__(self) -> None:
        candidates = np.asarray(self.candidates)
        if candidates.ndim != 2:
            raise AnalysisError(
                f"candidates must have shape (n_rounds, n_cand), got {candidates.shape}"
            )
        if candidates.dtype.kind not in "iu":
            raise AnalysisError(f"candidates must hold integer ids, got dtype {candidates.dtype}")
        candidates = candidates.astype(np.int64, copy=False)
        probs = np.asarray(self.probs, dtype=np.float64)
        if probs.ndim == 2:
            probs = probs[:, :, None]
        if probs.ndim != 3 or probs.shape[:2] != candidates.shape:
            raise AnalysisError(
                f"probs has shape {np.shape(self.probs)}, must be (n_rounds, n_cand) or "
                f"(n_rounds, n_cand, len_list) matching candidates {candidates.shape}"
            )
        bad = ~np.isfinite(probs)
        if bad.any():
            idx = first_index(bad)
            raise AnalysisError(f"probs{fmt_index(idx)} == {probs[idx]}, must be finite")
        check_probabilities(probs, "probs", axis=1, what="candidates")
        if (candidates < PAD_ID).any():
            idx = first_index(candidates < PAD_ID)
            raise AnalysisError(
                f"candidates{fmt_index(idx)} == {candidates[idx]}, must be >= 0 (or -1 as padding)"
            )
        padded_mass = np.where((candidates == PAD_ID)[:, :, None], probs, 0.0)
        if (padded_mass > SUM_TOLERANCE).any():
            idx = first_index(padded_mass > SUM_TOLERANCE)
            raise AnalysisError(
                f"probs{fmt_index(idx)} == {probs[idx]} on a padded candidate (-1), must be 0"
            )
        if candidates.shape[1] > 1:
            ordered = np.sort(candidates, axis=1)
            dup = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] != PAD_ID)
            if dup.any():
                row = first_index(dup)[0]
                raise AnalysisError(
                    f"candidates[{row}] repeats an id ({candidates[row].tolist()}); "
                    "ids in a row must be distinct"
                )
        object.__setattr__(self, "candidates", candidates)
        object.__setattr__(self, "probs", probs)

    @property
    def n_rounds(self) -> int:
        """Number of rounds."""
        return int(self.candidates.shape[0])

    @property
    def n_cand(self) -> int:
        """Candidates per round (including padding)."""
        return int(self.candidates.shape[1])

    @property
    def len_list(self) -> int:
        """Positions per round."""
        return int(self.probs.shape[2])

    def _position_probs(self, position: NDArray[np.int64] | None) -> NDArray[np.float64]:
        if position is None or self.len_list == 1:
            if position is not None and position.size and int(position.max()) > 0:
                raise AnalysisError(
                    f"position has values up to {int(position.max())} but action_dist has "
                    "len_list == 1"
                )
            return self.probs[:, :, 0]
        check_length(position, "position", self.n_rounds, "action_dist")
        check_range(position, "position", 0, self.len_list)
        return self.probs[np.arange(self.n_rounds), :, position]

    def prob_of(
        self, action: NDArray[np.int64], position: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """``pi_e(action_i | x_i)`` at each round's position; 0 for non-candidates."""
        check_length(action, "action", self.n_rounds, "action_dist")
        match = self.candidates == action[:, None]
        return np.einsum("ij,ij->i", match, self._position_probs(position))

    def expectation(
        self, values: NDArray[np.float64], position: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """``sum_k probs[i, k, pos_i] * values[i, k]``: a per-candidate value's policy mean.

        Args:
            values: Shape ``(n_rounds, n_cand)`` or ``(n_rounds, n_cand, len_list)``,
                aligned with ``candidates`` (e.g. a reward model's predictions).
            position: Each round's position, shape ``(n_rounds,)``; None means 0.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:
            if values.shape != self.probs.shape:
                raise AnalysisError(
                    f"estimated_rewards_by_reg_model has shape {values.shape}, must equal "
                    f"action_dist.probs {self.probs.shape}"
                )
            pos = np.zeros(self.n_rounds, np.int64) if position is None else position
            values = values[np.arange(self.n_rounds), :, pos]
        if values.shape != self.candidates.shape:
            raise AnalysisError(
                f"estimated_rewards_by_reg_model has shape {values.shape}, must equal "
                f"action_dist.candidates {self.candidates.shape}"
            )
        return np.einsum("ij,ij->i", self._position_probs(position), values)

    def value_of(
        self, values: NDArray[np.float64], action: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """``values[i, k]`` at the candidate ``k`` equal to ``action_i`` (0 if absent)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3:
            values = values[:, :, 0]
        match = self.candidates == action[:, None]
        return np.einsum("ij,ij->i", match, values)

    def to_dense(self, n_actions: int) -> NDArray[np.float64]:
        """The dense ``(n_rounds, n_actions, len_list)`` array (for tests and small logs)."""
        if self.candidates.size and int(self.candidates.max()) >= n_actions:
            raise AnalysisError(
                f"n_actions == {n_actions}, must exceed the largest candidate id "
                f"{int(self.candidates.max())}"
            )
        dense = np.zeros((self.n_rounds, n_actions, self.len_list))
        rows, cols = np.nonzero(self.candidates != PAD_ID)
        dense[rows, self.candidates[rows, cols], :] = self.probs[rows, cols, :]
        return dense

    @classmethod
    def from_dense(cls, action_dist: NDArray[np.float64], n_cand: int) -> SparseActionDist:
        """Keep each round's ``n_cand`` most likely actions (position 0); exact if the
        policy puts no mass elsewhere, else a ValueError names the lost mass."""
        dense = np.asarray(action_dist, dtype=np.float64)
        if dense.ndim != 3:
            raise AnalysisError(f"action_dist must be 3-dimensional, got shape {dense.shape}")
        top = np.argsort(-dense[:, :, 0], axis=1, kind="stable")[:, :n_cand]
        probs = np.take_along_axis(dense, top[:, :, None], axis=1)
        lost = 1.0 - probs.sum(axis=1)
        if (np.abs(lost) > SUM_TOLERANCE).any():
            raise AnalysisError(
                f"n_cand == {n_cand} drops up to {float(np.abs(lost).max()):.3g} of "
                "action_dist's mass; raise n_cand"
            )
        return cls(candidates=top.astype(np.int64), probs=probs)
