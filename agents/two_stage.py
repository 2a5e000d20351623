"""The two-stage recommender: retrieval over the catalogue, ranking, exploration.

1. **Retrieval**: a factorising base model (YouTube DNN two-tower or FM) scores every item
   released so far by a dot product of a user vector and cached item vectors; the top
   ``n_candidates`` go on (new items are scored by their meta features and artist), except
   for ``explore_slots`` of them, which an exploration source fills
   (:mod:`agents.exploration_candidates`). Retrieval learns pointwise (binary
   cross-entropy on the arm's impressions) or by a sampled softmax over the catalogue on
   positive feedback (:mod:`agents.sampled_softmax`), optionally wrapped by a training
   framework whose adapter is tower-wise, so the item table stays precomputed
   (:mod:`agents.retrieval_framework`).
2. **Ranking**: a multi-task base model (any of the five), optionally wrapped by a training
   framework from :mod:`adaf2m2`, predicts the task probabilities of every candidate; the
   serving score is ``sum_t score_weights[t] * p_t``.
3. **Serving policy**: softmax over the scores with a temperature (or epsilon-greedy) picks
   one item and records its exact probability, with every candidate's probability, so the
   log supports off-policy evaluation.

Both stages learn online from the arm's own feedback (:class:`~agents.online.OnlineLearner`;
with ``rowwise_embeddings``, row-wise Adam on the embedding tables: :mod:`agents.row_adam`)
with interaction counts kept by :class:`~agents.counters.InteractionCounters`. The agent
sees only the :class:`~simulator.types.ObservableWorld`: features, never tastes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from adaf2m2.factory import build_framework
from adaf2m2.trainable import PlainModel, torch_generator
from agents.counters import InteractionCounters
from agents.exploration import ExplorationConfig, choice_probabilities, sample_choices
from agents.exploration_candidates import hashed_draws, with_exploration
from agents.features import FeatureSpec
from agents.framework_options import framework_options
from agents.models.base import ModelConfig
from agents.models.registry import build_model
from agents.online import OnlineLearner
from agents.retrieval import item_vectors, user_vectors
from agents.retrieval_framework import build_retrieval_framework, tower_adapter
from agents.sampled_softmax import (
    PositiveFrequency,
    SampledSoftmax,
    unit_item_vectors,
    unit_user_vectors,
)
from simulator.experiment_config import ArmConfig
from simulator.types import FeedbackBatch, ObservableWorld, Recommendation, RequestBatch

MINUTES_PER_DAY = 1440

RngLike = int | np.random.Generator | np.random.SeedSequence | None


class TwoStage:
    """Retrieval, ranking and exploration, learning online (a ``Recommender``).

    Args:
        world: The observable world (feature tables and arrival counts).
        config: The arm's configuration.
        rng: Seed of the initial weights, the framework's masks and the shuffling.

    Example:
        A full run is in ``tests/agents/test_two_stage.py``; the agent is built by
        ``agents.build_agent(arm_config, world.observable, rng)``.
    """

    def __init__(self, world: ObservableWorld, config: ArmConfig, rng: RngLike = None) -> None:
        gen = np.random.default_rng(rng)
        self.world = world
        self.config = config
        self.spec = FeatureSpec.from_world(world, id_capacity=config.id_capacity)
        self.tasks: tuple[str, ...] = tuple(config.tasks)
        self.score_weights = torch.tensor(config.score_weights, dtype=torch.float32)
        self.exploration = ExplorationConfig(config.exploration, config.temperature, config.epsilon)
        ranking = build_model(
            config.ranking_model,
            self.spec,
            ModelConfig(config.embed_dim, self.tasks, config.hidden_dims),
            torch_generator(gen),
        )
        framework = framework_options(config)
        self.ranker = build_framework(config.framework, ranking, framework, rng=gen.spawn(1)[0])
        self.retrieval_model = build_model(
            config.retrieval_model,
            self.spec,
            ModelConfig(config.embed_dim, self.tasks[:1], config.hidden_dims),
            torch_generator(gen),
        )
        self.counters = InteractionCounters()
        self.positives = PositiveFrequency()
        self.n_items_seen = 0
        self.retriever: Any
        softmax: SampledSoftmax | None = None
        if config.retrieval_loss == "sampled_softmax":
            softmax = SampledSoftmax(
                self.retrieval_model,
                self._item_batch,
                self._catalogue_size,
                self.positives,
                config.retrieval_negatives,
                torch_generator(gen),
                config.retrieval_temperature,
            )
        if config.retrieval_framework == "none":
            # No draw from ``gen`` here: bare retrieval keeps the seeds it always had.
            self.retriever = softmax if softmax is not None else PlainModel(self.retrieval_model)
        else:
            self.retriever = build_retrieval_framework(
                config.retrieval_framework,
                self.retrieval_model,
                framework_options(config, "retrieval"),
                gen.spawn(1)[0],
                softmax,
            )
        # What serving applies to retrieval's embeddings (the tower-wise weights); kept by
        # serving snapshots, which leave the retriever out.
        self.retrieval_adapter = tower_adapter(self.retriever)
        self.rank_learner = self._learner(self.ranker, len(self.tasks), gen)
        self.retrieval_learner = self._learner(self.retriever, 1, gen)
        # Seed of the hashed exploration draws: kept in snapshots, so that off-policy
        # evaluation rebuilds the candidates of any logged request. Drawn only when used:
        # ``rng`` may be the caller's generator, whose later draws must not move.
        self.explore_seed = int(gen.integers(2**63)) if config.explore_slots else 0
        self._item_cache: torch.Tensor | None = None

    def _learner(self, model: Any, n_tasks: int, gen: np.random.Generator) -> OnlineLearner:
        c = self.config
        return OnlineLearner(
            model,
            self.spec,
            n_tasks,
            c.lr,
            c.batch_size,
            torch_generator(gen),
            c.replay_rows,
            rowwise_embeddings=c.rowwise_embeddings,
        )

    def _catalogue_size(self) -> int:
        """Songs released so far, as the last request or feedback said (negatives' range)."""
        return self.n_items_seen

    def _item_batch(self, item_ids: NDArray[np.int64]) -> Any:
        """A feature batch describing ``item_ids`` with today's counts (user fields unused)."""
        fields, counts = self._encode(np.zeros(item_ids.size, dtype=np.int64), item_ids)
        return self.spec.make_batch(fields, counts)

    # ------------------------------------------------------------------ features

    def _encode(
        self, user_ids: NDArray[np.int64], item_ids: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        counts = self.counters.counts(user_ids, item_ids)
        fields = self.spec.encode(
            self.world.user_features(user_ids), self.world.item_features(item_ids), counts
        )
        return fields, counts

    def _embed(self, fields: NDArray[np.int64], counts: NDArray[np.float32]) -> torch.Tensor:
        """Retrieval's field embeddings as its towers read them: ``w * v`` with an adapter.

        The weights of a user field come from the user's state only and those of an item
        field from the item's, so the user vector does not depend on the item columns of
        these rows, nor an item vector on the user columns.
        """
        batch = self.spec.make_batch(fields, counts)
        v = self.retrieval_model.embed(batch)
        if self.retrieval_adapter is None:
            return v
        return self.retrieval_adapter(v, batch.counts).unsqueeze(-1) * v

    # ------------------------------------------------------------------ serving

    def _user_vectors(self, v: torch.Tensor) -> torch.Tensor:
        """Retrieval's user vectors, unit length when it learns by sampled softmax."""
        if self.config.retrieval_loss == "sampled_softmax":
            return unit_user_vectors(self.retrieval_model, v)
        return user_vectors(self.retrieval_model, v)

    def _item_vectors(self, v: torch.Tensor) -> torch.Tensor:
        """Retrieval's item vectors, unit length when it learns by sampled softmax."""
        if self.config.retrieval_loss == "sampled_softmax":
            return unit_item_vectors(self.retrieval_model, v)
        return item_vectors(self.retrieval_model, v)

    @torch.no_grad()
    def _item_table(self, n_items: int) -> torch.Tensor:
        if self._item_cache is None or self._item_cache.shape[0] != n_items:
            items = np.arange(n_items, dtype=np.int64)
            users = np.zeros(n_items, dtype=np.int64)  # user columns are ignored by the tower
            self.retrieval_model.eval()
            self._item_cache = self._item_vectors(self._embed(*self._encode(users, items)))
        return self._item_cache

    @torch.no_grad()
    def retrieve(self, user_ids: NDArray[np.int64], n_items: int) -> NDArray[np.int64]:
        """``(B, min(n_candidates, n_items))`` item ids with the highest retrieval scores."""
        table = self._item_table(n_items)
        items = np.zeros(user_ids.size, dtype=np.int64)  # item columns are ignored
        u = self._user_vectors(self._embed(*self._encode(user_ids, items)))
        n = min(self.config.n_candidates, n_items)
        top = torch.topk(u @ table.T, n, dim=1, sorted=True).indices
        return top.numpy().astype(np.int64)

    def candidates(self, requests: RequestBatch) -> NDArray[np.int64]:
        """The candidate lists of ``requests``: retrieved, with the exploration slots filled.

        Exploration draws are hashed from the request (session id, step), so the same
        request always gets the same list (:mod:`agents.exploration_candidates`).
        """
        retrieved = self.retrieve(requests.user_ids, requests.n_items)
        slots = min(self.config.explore_slots, max(retrieved.shape[1] - 1, 0))
        if slots == 0:
            return retrieved
        low = 0
        if self.config.explore_source == "fresh":
            since = requests.minute - self.config.fresh_days * MINUTES_PER_DAY
            low = self.world.n_items_at(since)
            if low >= requests.n_items:  # nothing fresh: the whole catalogue
                low = 0
        draws = hashed_draws(
            self.explore_seed, requests.session_ids, requests.steps, slots, low, requests.n_items
        )
        return with_exploration(retrieved, draws)

    @torch.no_grad()
    def rank(self, user_ids: NDArray[np.int64], candidates: NDArray[np.int64]) -> torch.Tensor:
        """``(B, n_cand, n_tasks)`` predicted probabilities of every candidate."""
        b, n = candidates.shape
        fields, counts = self._encode(np.repeat(user_ids, n), candidates.ravel())
        train = getattr(self.ranker, "train", None)
        if callable(train):
            train(False)
        logits = self.ranker.predict(self.spec.make_batch(fields, counts))
        return torch.sigmoid(logits).view(b, n, -1)

    def action_distribution(
        self, user_ids: NDArray[np.int64], n_items: int, requests: RequestBatch | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """The policy's candidates ``(B, n_cand)`` and their probabilities (rows sum to 1).

        What :meth:`recommend` samples from; off-policy evaluation calls it on another
        policy's logged requests. With exploration slots the candidates depend on the
        request (its session id and step), so ``requests`` (the logged requests of
        ``user_ids``) is required then.
        """
        if requests is None:
            if self.config.explore_slots:
                raise ValueError(
                    "requests is None, must be the RequestBatch of user_ids: this agent's "
                    f"candidates include {self.config.explore_slots} exploration slots "
                    "hashed from each request"
                )
            candidates = self.retrieve(user_ids, n_items)
        else:
            candidates = self.candidates(requests)
        scores = (self.rank(user_ids, candidates) @ self.score_weights).double().numpy()
        return candidates, choice_probabilities(scores, self.exploration)

    def recommend(self, requests: RequestBatch, rng: np.random.Generator) -> Recommendation:
        """Retrieve, rank, and draw one candidate per request with its exact probability."""
        users = requests.user_ids
        self.n_items_seen = max(self.n_items_seen, requests.n_items)
        candidates, probs = self.action_distribution(users, requests.n_items, requests)
        pick = sample_choices(probs, rng.random(users.size))
        rows = np.arange(users.size)
        return Recommendation(
            item_ids=candidates[rows, pick],
            pscore=probs[rows, pick],
            candidates=candidates,
            candidate_probs=probs,
        )

    # ------------------------------------------------------------------ learning

    def labels(self, feedback: FeedbackBatch) -> NDArray[np.float32]:
        """``(B, n_tasks)`` labels of the ranking tasks from the observed response."""
        fraction = np.clip(feedback.listen_seconds / np.maximum(feedback.item_seconds, 1e-9), 0, 1)
        columns = {
            "finish": feedback.finish,
            "like": feedback.like,
            "comment": feedback.comment,
            "dislike": feedback.dislike,
            "listen_fraction": fraction,
        }
        return np.stack([np.asarray(columns[t], np.float32) for t in self.tasks], axis=1)

    def retrieval_labels(self, feedback: FeedbackBatch) -> NDArray[np.float32]:
        """``(B, 1)`` what retrieval learns: a positive (finish or like) for the sampled
        softmax, the first ranking task for the pointwise loss."""
        if self.config.retrieval_loss == "sampled_softmax":
            return (feedback.finish | feedback.like).astype(np.float32)[:, None]
        return self.labels(feedback)[:, :1]

    def _count(self, feedback: FeedbackBatch) -> None:
        """Update the interaction counters and the positives' frequencies."""
        self.counters.update(feedback)
        self.positives.add(feedback.recommendation.item_ids, feedback.finish | feedback.like)
        self.n_items_seen = max(self.n_items_seen, feedback.requests.n_items)

    @property
    def accepts_training_weights(self) -> bool:
        """Whether both stages apply :attr:`FeedbackBatch.training_weight` in their losses:
        every mode but the SSL baseline, whose contrastive loss has no per-row weight."""
        return "ssl_mask" not in (self.config.framework, self.config.retrieval_framework)

    def observe(self, feedback: FeedbackBatch) -> None:
        """Queue the examples (features as served, with their training weights, if any)
        and update the counters (which count every row, whatever its weight)."""
        users = feedback.requests.user_ids
        fields, counts = self._encode(users, feedback.recommendation.item_ids)
        w = feedback.training_weight
        self.rank_learner.add(fields, counts, self.labels(feedback), w)
        self.retrieval_learner.add(fields, counts, self.retrieval_labels(feedback), w)
        self._count(feedback)

    def train(self) -> dict[str, float]:
        """One online update of both stages on the feedback since the last one."""
        losses = {"rank": self.rank_learner.update(), "retrieval": self.retrieval_learner.update()}
        self._item_cache = None
        return losses

    def learn_history(self, batches: Iterable[FeedbackBatch], n_rows: int) -> dict[str, float]:
        """Pre-train on the history log (before the pre-period), oldest batch first.

        The counters count every row; both stages train ``history_epochs`` passes on the
        most recent ``history_train_rows`` rows, encoded with the counts as they were when
        each row was served (a model is trained on a recent window of the log, and the
        window bounds the cost).
        """
        keep_from = n_rows - self.config.history_train_rows
        seen = 0
        parts: list[tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]] = []
        retrieval_parts: list[NDArray[np.float32]] = []
        for batch in batches:
            n = len(batch.requests)
            if seen + n > keep_from:
                first = max(keep_from - seen, 0)
                fields, counts = self._encode(
                    batch.requests.user_ids[first:], batch.recommendation.item_ids[first:]
                )
                parts.append((fields, counts, self.labels(batch)[first:]))
                retrieval_parts.append(self.retrieval_labels(batch)[first:])
            self._count(batch)
            seen += n
        losses = {"rank": float("nan"), "retrieval": float("nan")}
        if parts:
            fields = np.concatenate([p[0] for p in parts])
            counts = np.concatenate([p[1] for p in parts])
            y = np.concatenate([p[2] for p in parts])
            epochs = self.config.history_epochs
            losses["rank"] = self.rank_learner.fit(fields, counts, y, epochs)
            losses["retrieval"] = self.retrieval_learner.fit(
                fields, counts, np.concatenate(retrieval_parts), epochs
            )
        self._item_cache = None
        return losses

    def warm_start(self, epochs: int) -> dict[str, float]:
        """Extra passes over the recent (pre-period) feedback before the experiment."""
        losses = {
            "rank": self.rank_learner.warm_start(epochs),
            "retrieval": self.retrieval_learner.warm_start(epochs),
        }
        self._item_cache = None
        return losses

    def serving_snapshot(self) -> TwoStage:
        """A copy that serves exactly as this agent does now, without what it needs to learn.

        It shares the models, counters and caches, and leaves out the learners (their
        optimiser moments and feedback buffers: two thirds of a checkpoint) and the
        retrieval loss that refers back to this agent. Pickled at
        each day boundary of an experiment, it is what off-policy evaluation replays:
        :meth:`action_distribution` and :meth:`recommend` work on it, training does not.
        """
        snapshot = object.__new__(TwoStage)
        state = dict(self.__dict__)
        del state["rank_learner"], state["retrieval_learner"], state["retriever"]
        snapshot.__dict__.update(state)
        return snapshot

    @property
    def last_losses(self) -> dict[str, float]:
        """Mean loss of the last update of each stage."""
        return {
            "rank": self.rank_learner.last_loss_,
            "retrieval": self.retrieval_learner.last_loss_,
        }


__all__ = ["TwoStage"]
