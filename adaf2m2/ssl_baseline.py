"""The self-supervised masking baseline of Yao et al. (2021), which the paper compares with.

Yao, Yi, Cheng, Yu, Chen, Menon, Hong, Chi, Tjoa, Kang, Ettinger. "Self-supervised
Learning for Large-scale Item Recommendations", CIKM 2021 (arXiv:2007.12865). Their
multi-task objective is

    L = L_main + alpha_ssl * L_self,
    L_self = -1/N sum_i log( exp(s(z_i, z'_i) / tau) / sum_j exp(s(z_i, z'_j) / tau) ),

where ``z_i = H(y_i)`` and ``z'_i = G(y'_i)`` encode two augmentations of example ``i``,
``s`` is the cosine similarity, ``tau`` a temperature and the other examples of the batch
are the negatives (InfoNCE with in-batch negatives). Their Random Feature Masking (RFM)
splits the features of each example into two complementary halves: view 1 masks one half,
view 2 the other.

What this module implements, in the protocol's terms:

- ``v = embed(batch)``; per example a random half ``S`` of the ``F`` fields (``floor(F/2)``
  fields); view 1 replaces the fields in ``S`` by the learned per-field [MASK] embeddings,
  view 2 those outside ``S``.
- One shared encoder ``H = G``: a two-layer MLP over the flattened masked embeddings with
  an L2-normalised output (the base model's ``head`` gives logits, not a representation,
  so the encoder is this framework's own; Yao et al. share the item tower).
- ``L_main = BCE(head(v), y)`` (multi-task as elsewhere); serving is ``head(v)``.

Gradient routing: ``L_main`` updates the embeddings and ``head``; ``L_self`` updates the
embeddings, the [MASK] embeddings and the encoder, and gives ``head`` no gradient.
Differences from Yao et al.: the contrast runs over all fields of the training examples
(user and item side), not over item features sampled from the item distribution; masked
fields take a learned [MASK] embedding instead of being dropped; Correlated Feature
Masking is not implemented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.protocol import FeatureBatch, WrappableModel
from adaf2m2.trainable import (
    LossParts,
    RngLike,
    check_base_model,
    init_linear_,
    multitask_bce,
    normalised_task_weights,
    require_labels,
    torch_generator,
)


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with in-batch negatives, one direction (view 1 queries view 2).

    ``-mean_i log softmax_j(cos(z1_i, z2_j) / tau)[i]``.

    Example:
        >>> z = torch.eye(3)
        >>> round(float(info_nce(z, z, 0.1)), 6) < 1e-3
        True
    """
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    logits = z1 @ z2.T / temperature
    target = torch.arange(z1.shape[0], device=z1.device)
    return F.cross_entropy(logits, target)


class SSLMask(nn.Module):
    """A base model trained with the SSL masking regulariser of Yao et al. (2021).

    Args:
        base_model: An ``nn.Module`` implementing :class:`~adaf2m2.protocol.WrappableModel`.
        config: Uses ``ssl_temperature``, ``ssl_weight``, ``ssl_hidden``,
            ``ssl_projection_dim``, ``mask_init_std`` and ``task_weights``.
        rng: Seed of the view split and of the initialisation.

    Example:
        >>> from adaf2m2.toy import ToyModel, make_toy_batch
        >>> fw = SSLMask(ToyModel(), AdaF2M2Config(mode="ssl_mask"), rng=0)
        >>> fw.loss(make_toy_batch(16, rng=0)).dim()
        0
    """

    def __init__(self, base_model: WrappableModel, config: AdaF2M2Config, rng: RngLike = None):
        super().__init__()
        self.base = check_base_model(base_model)
        assert isinstance(self.base, nn.Module)
        if base_model.n_fields < 2:
            raise BaseModelError(
                f"base_model.n_fields == {base_model.n_fields}, the SSL baseline needs >= 2 "
                "fields to split into two views"
            )
        self.config = config
        self.mode = "ssl_mask"
        self._generator = torch_generator(rng)
        self._task_weights = normalised_task_weights(config.task_weights, base_model.n_tasks)
        n_fields, d = base_model.n_fields, base_model.embed_dim
        self.mask_embeddings = nn.Parameter(
            torch.randn(n_fields, d, generator=self._generator) * config.mask_init_std
        )
        self.encoder = nn.Sequential(
            nn.Linear(n_fields * d, config.ssl_hidden),
            nn.ReLU(),
            nn.Linear(config.ssl_hidden, config.ssl_projection_dim),
        )
        init_linear_(self.encoder, self._generator)
        with torch.no_grad():
            # Zero biases: with small embeddings, random biases would dominate z and make
            # every pair look alike (cosine ~ 1), a flat start for InfoNCE.
            for layer in self.encoder:
                if isinstance(layer, nn.Linear):
                    layer.bias.zero_()
        self.last_parts_: LossParts | None = None

    @property
    def n_tasks(self) -> int:
        """Number of tasks of the base model."""
        return int(self.base.n_tasks)

    def predict(self, batch: FeatureBatch) -> torch.Tensor:
        """Serving logits ``head(embed(batch))``, ``(B, n_tasks)``."""
        return self.base.head(self.base.embed(batch))

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """Same as :meth:`predict`."""
        return self.predict(batch)

    def adapter_weights(self, batch: FeatureBatch) -> torch.Tensor:
        """The SSL baseline has no adapter; always raises."""
        raise FrameworkConfigError(
            "AdaF2M2Config.mode == 'ssl_mask' has no adapter; adapter weights exist in modes "
            "'adaf2m2' and 'adapter_only'"
        )

    def views(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Two complementary masked views of ``v`` (RFM) and the ``(B, F)`` split.

        Returns:
            ``(view1, view2, in_first)``: ``view1`` masks the fields where ``in_first`` is
            True, ``view2`` the others.
        """
        batch_size, n_fields, _ = v.shape
        scores = torch.rand(
            (batch_size, n_fields), generator=self._generator, device=self._generator.device
        )
        # The floor(F/2) lowest random scores of each row form the first half.
        ranks = scores.argsort(dim=1).argsort(dim=1)
        in_first = (ranks < n_fields // 2).to(v.device)
        filler = self.mask_embeddings.to(v.dtype).unsqueeze(0)
        view1 = torch.where(in_first.unsqueeze(-1), filler, v)
        view2 = torch.where(in_first.unsqueeze(-1), v, filler)
        return view1, view2, in_first

    def ssl_loss(self, v: torch.Tensor) -> torch.Tensor:
        """``L_self`` on the two views of ``v`` (gradients to ``v``, [MASK], encoder)."""
        view1, view2, _ = self.views(v)
        z1 = self.encoder(view1.flatten(start_dim=1))
        z2 = self.encoder(view2.flatten(start_dim=1))
        return info_nce(z1, z2, self.config.ssl_temperature)

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        """``L = BCE(head(v), y) + ssl_weight * L_self``; parts go to ``last_parts_``."""
        if batch.weights is not None:
            # InfoNCE contrasts the batch's rows with each other: no per-example weight
            # of it would reweigh the training distribution as a weighted BCE does.
            raise BaseModelError(
                "batch.weights is set, but the SSL baseline takes no per-example weights "
                "(its contrastive loss has none)"
            )
        labels = require_labels(batch, self.n_tasks).to(batch.fields.device)
        v = self.base.embed(batch)
        main = multitask_bce(self.base.head(v), labels, self._task_weights)
        if len(batch) < 2:
            # InfoNCE needs at least one in-batch negative.
            aux = torch.zeros((), device=main.device, dtype=main.dtype)
        else:
            aux = self.ssl_loss(v)
        total = main + self.config.ssl_weight * aux
        self.last_parts_ = LossParts.of(main, aux, total)
        return total
