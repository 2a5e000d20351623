"""AdaF²M² and its comparators on the retrieval stage (the paper's table 4 is on retrieval).

The paper deploys AdaF²M² on "both retrieval and ranking tasks"; its ablation (table 4)
wraps a two-tower model. Retrieval has one constraint ranking has not: it scores the whole
catalogue by one matrix product of a user vector and cached item vectors
(:mod:`agents.retrieval`), so whatever the framework changes must keep each vector a
function of its own side. Hence:

- **Adapter**: tower-wise (:class:`~adaf2m2.tower_adapter.TowerAdapter`): the user's
  fields are weighted from the user's ID embedding and counts, the item's fields from the
  item's and artist's ID embeddings and the item's counts. Serving is
  ``user_vectors(w_u * v)`` and ``item_vectors(w_i * v)``; the item table stays cached.
- **Mask**: the ranking one (:class:`~adaf2m2.mask.FeatureMask`), over every field, in
  training only (serving never calls it).
- **Losses**, ``L = L_main + alpha * L_aux``:

  - ``pointwise``: :class:`~adaf2m2.framework.AdaF2M2` itself, with the tower-wise adapter:
    ``L_main = BCE(head(a))``, ``L_aux`` the BCE of ``k`` masked copies (the towers' dot
    product is the retrieval model's ``head``).
  - ``sampled_softmax``: :class:`SoftmaxFramework`: ``L_main`` is the sampled softmax of
    :mod:`agents.sampled_softmax` on the adapted embeddings of both sides (the positive
    rows' user fields, the classes' item fields); ``L_aux`` is the same softmax, with the
    same classes, on ``k`` masked copies of both sides, per copy, reduced by
    ``aux_reduction``.

- **SSL baseline** (``ssl_mask``): ``L_main + ssl_weight * InfoNCE`` as
  :class:`~adaf2m2.ssl_baseline.SSLMask` computes it, on the training examples (with the
  sampled softmax: its positive rows). Serving is the bare towers.

Gradient routing is the ranking framework's (``routing``, ``aux_reduction``): ``L_main``
trains the adapter, the towers and (as ``routing`` says) the embeddings; ``L_aux`` trains
the embeddings, the [MASK] embeddings and the towers, never the adapter.
"""

from __future__ import annotations

import torch
from torch import nn

from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import BaseModelError
from adaf2m2.factory import build_framework
from adaf2m2.framework import AdaF2M2, LossTensors
from adaf2m2.protocol import FeatureBatch
from adaf2m2.ssl_baseline import SSLMask
from adaf2m2.tower_adapter import Tower, TowerAdapter
from adaf2m2.trainable import LossParts, PlainModel, RngLike, TrainableModel
from agents.models.base import BaseModel
from agents.sampled_softmax import SampledSoftmax, unit_item_vectors, unit_user_vectors


def retrieval_towers(model: BaseModel) -> tuple[Tower, Tower]:
    """The user and item sides of a retrieval model, from its fields' owners.

    Every field of an ``agents.models`` model has an owner (the history pool is the
    user's), so no field is left to neither side.

    Example:
        >>> from agents.features import FeatureSpec
        >>> from agents.models.youtube_dnn import YouTubeDNN
        >>> from simulator.types import FieldSpec
        >>> spec = FeatureSpec.from_fields([FieldSpec("user_id", "user", "id", 5)],
        ...     [FieldSpec("item_id", "item", "id", 7), FieldSpec("artist_id", "item", "id", 3)],
        ...     n_count_buckets=0)
        >>> [(t.name, t.fields, t.count_columns) for t in retrieval_towers(YouTubeDNN(spec))]
        [('user', (0,), (0, 1, 2)), ('item', (1, 2), (3, 4, 5))]
    """
    return (
        Tower.of("user", model.owners, model.id_fields),
        Tower.of("item", model.owners, model.id_fields),
    )


class SoftmaxFramework(nn.Module):
    """A sampled-softmax retrieval model trained with AdaF²M², an ablation or SSL masking.

    Args:
        softmax: The sampled softmax (its classes, log-Q correction and temperature).
        framework: An :class:`AdaF2M2` (with the tower-wise adapter) or an :class:`SSLMask`
            around the same base model.

    Attributes:
        base: The retrieval model (the optimiser finds its embedding tables here).
        last_parts_: :class:`LossParts` of the last :meth:`loss` call.
    """

    def __init__(self, softmax: SampledSoftmax, framework: AdaF2M2 | SSLMask) -> None:
        super().__init__()
        if framework.base is not softmax.base:
            raise BaseModelError(
                "framework.base is not softmax.base, must wrap the same retrieval model"
            )
        self.base = softmax.base
        self.softmax = softmax
        self.framework = framework
        self.last_parts_: LossParts | None = None

    @property
    def adapter(self) -> TowerAdapter | None:
        """The tower-wise adapter serving uses, or ``None`` (no adapter in this mode)."""
        adapter = self.framework.adapter if isinstance(self.framework, AdaF2M2) else None
        return adapter if isinstance(adapter, TowerAdapter) else None

    def _adapt(self, v: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        return self.framework.adapt(v, counts) if isinstance(self.framework, AdaF2M2) else v

    def predict(self, batch: FeatureBatch) -> torch.Tensor:
        """``(B, 1)`` scores ``<u, i> / tau`` of the batch's pairs on the served embeddings."""
        v = self._adapt(self.base.embed(batch), batch.counts)
        u, i = unit_user_vectors(self.base, v), unit_item_vectors(self.base, v)
        return (u * i).sum(1, keepdim=True) / self.softmax.temperature

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """Same as :meth:`predict`."""
        return self.predict(batch)

    def loss_tensors(self, batch: FeatureBatch) -> LossTensors:
        """``L_main``, ``L_aux`` and ``L`` of a batch, attached to the graph (module docstring)."""
        v = self.base.embed(batch)
        classes = self.softmax.classes(batch)
        if classes is None:
            # No positive: zero losses that still have a graph, so the step is a no-op.
            zero = v.sum() * 0.0
            return LossTensors(main=zero, aux=zero, total=zero)
        v_users, counts_users = v[classes.rows], batch.counts[classes.rows]
        v_classes = self.base.embed(classes.items)
        fw = self.framework
        w = batch.weights
        if isinstance(fw, SSLMask):
            if w is not None:
                raise BaseModelError(
                    "batch.weights is set, but the SSL baseline takes no per-example weights "
                    "(its contrastive loss has none)"
                )
            main = self.softmax.cross_entropy(v_users, v_classes, classes)
            # InfoNCE needs at least one in-batch negative.
            aux = fw.ssl_loss(v_users) if len(classes.rows) >= 2 else main.new_zeros(())
            return LossTensors(main=main, aux=aux, total=main + fw.config.ssl_weight * aux)
        main = self.softmax.cross_entropy(
            fw.adapt(v_users, counts_users), fw.adapt(v_classes, classes.items.counts), classes, w
        )
        if fw.mask is None:
            return LossTensors(main=main, aux=main.new_zeros(()), total=main)
        # The same classes for every copy: a copy differs from the main forward only by
        # which fields of its user and of its classes are masked.
        b, c, k = v_users.shape[0], v_classes.shape[0], fw.config.k
        masked_users, masked_classes = fw.masked_copies(v_users), fw.masked_copies(v_classes)
        per_copy = [
            self.softmax.cross_entropy(
                masked_users[i * b : (i + 1) * b], masked_classes[i * c : (i + 1) * c], classes, w
            )
            for i in range(k)
        ]
        aux = fw.reduce_copies(torch.stack(per_copy).mean())
        return LossTensors(main=main, aux=aux, total=main + fw.config.alpha * aux)

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        """``L`` for one labelled batch (positives in label column 0); parts to ``last_parts_``."""
        parts = self.loss_tensors(batch)
        self.last_parts_ = LossParts.of(parts.main, parts.aux, parts.total)
        return parts.total


def build_retrieval_framework(
    name: str,
    model: BaseModel,
    config: AdaF2M2Config,
    rng: RngLike,
    softmax: SampledSoftmax | None = None,
) -> TrainableModel:
    """The retrieval stage's trainable: ``model`` wrapped in the framework called ``name``.

    Args:
        name: A framework name of :func:`adaf2m2.build_framework` (``none``, ``adaf2m2``,
            ``mask_only``, ``adapter_only``, ``ssl_mask``).
        model: The retrieval model (YouTube DNN or FM).
        config: The arm's options (``agents.framework_options(arm, "retrieval")``).
        rng: Seed of the framework's mask stream and initialisation.
        softmax: The sampled softmax around ``model`` when retrieval learns by it;
            ``None``: pointwise BCE.

    Returns:
        Pointwise: the :func:`~adaf2m2.build_framework` framework with the tower-wise
        adapter (``none``: :class:`PlainModel`). Sampled softmax: a
        :class:`SoftmaxFramework` (``none``: ``softmax`` itself).
    """
    framework = build_framework(name, model, config, rng=rng, towers=retrieval_towers(model))
    if softmax is None:
        return framework
    if isinstance(framework, PlainModel):
        return softmax
    assert isinstance(framework, AdaF2M2 | SSLMask)
    return SoftmaxFramework(softmax, framework)


def tower_adapter(retriever: object) -> TowerAdapter | None:
    """The tower-wise adapter of a retrieval trainable, which serving applies; else ``None``."""
    if isinstance(retriever, SoftmaxFramework):
        return retriever.adapter
    adapter = getattr(retriever, "adapter", None) if isinstance(retriever, AdaF2M2) else None
    return adapter if isinstance(adapter, TowerAdapter) else None


__all__ = [
    "SoftmaxFramework",
    "build_retrieval_framework",
    "retrieval_towers",
    "tower_adapter",
]
