"""AdaF²M²: a wrapper that arms any base model with the feature mask and the adapter.

The wrapper delegates ``embed`` and ``head`` to the base model (wrap, don't subclass). With
``v = embed(batch)``:

- **Main forward** (Eq. 6): ``w = adapter(state(v.detach(), counts))``,
  ``y_adapt = head(a)`` with ``a = w * v`` as :attr:`AdaF2M2Config.routing` says (below);
  ``L_main = BCE(y_adapt, y)``.
- **Auxiliary forwards** (Eqs. 2-3): ``k`` masked copies ``v_mask^i = mask(v)``,
  ``y_mask^i = head(v_mask^i)`` (no ``w``); ``L_aux`` = the BCE of the ``k`` copies against
  their own example's labels, summed over the copies (Eq. 3, ``aux_reduction = "sum"``) or
  averaged (``"mean"``).
- ``L = L_main + alpha * L_aux``; serving computes ``y_adapt`` only.

Routing of ``L_main`` to the embeddings (modes with an adapter):

- ``joint``: ``a = w * v``; the embeddings' gradient is ``w * dL/da`` (Eq. 5).
- ``strict``: ``a = w * v.detach()``; the embeddings get exactly zero from ``L_main``.
- ``straight_through``: ``a = w * v.detach() + (v - v.detach())``: the same value, and the
  embeddings' gradient is ``dL/da`` (no factor ``w``).

Which parameters each loss updates, per mode (``E`` = base embedding tables, ``M`` = [MASK]
embeddings, ``G`` = base ``head`` (the paper's ``g``), ``A`` = adapter):

============== ======================================= ================================
mode           L_main updates                          L_aux updates
============== ======================================= ================================
adaf2m2        A, G, E (E: zero with ``strict``)       E, M, G (no ``w``: zero grad to A)
mask_only      E, G  (``L_main = BCE(head(v))``)       E, M, G
adapter_only   A, G, E (``joint`` or                   none (no mask)
               ``straight_through``)
none           E, G  (the bare base model)             none
============== ======================================= ================================

The adapter's inputs (ID embeddings, their norms, counts) are always detached: they are
state *signals*, read-only to the adapter, so the adapter never moves the embeddings.

On a factorised (retrieval) model the wrapper takes ``towers``: the adapter is then the
tower-wise :class:`~adaf2m2.tower_adapter.TowerAdapter` (each side's weights from its own
state), and everything above holds unchanged; ``agents.retrieval_framework`` builds it and
uses :meth:`AdaF2M2.adapt`, :meth:`AdaF2M2.masked_copies` and
:meth:`AdaF2M2.reduce_copies` for the sampled-softmax loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from adaf2m2.adapter import StateAwareAdapter
from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.mask import FeatureMask, repeat_k
from adaf2m2.protocol import FeatureBatch, WrappableModel
from adaf2m2.tower_adapter import Tower, TowerAdapter
from adaf2m2.trainable import (
    LossParts,
    RngLike,
    check_base_model,
    multitask_bce,
    normalised_task_weights,
    require_labels,
    torch_generator,
)

_MODES = ("adaf2m2", "mask_only", "adapter_only", "none")


@dataclass(frozen=True)
class LossTensors:
    """The loss parts of one batch as tensors (still attached to the graph).

    Attributes:
        main: ``L_main``.
        aux: ``L_aux`` (a zero tensor in modes without a mask).
        total: ``L_main + alpha * L_aux``.
    """

    main: torch.Tensor
    aux: torch.Tensor
    total: torch.Tensor


class AdaF2M2(nn.Module):
    """A base model wrapped with AdaF²M² (or one of its ablations, by ``config.mode``).

    Args:
        base_model: An ``nn.Module`` implementing :class:`~adaf2m2.protocol.WrappableModel`.
        config: Hyper-parameters; ``config.mode`` is one of ``"adaf2m2"``, ``"mask_only"``,
            ``"adapter_only"``, ``"none"`` (``"ssl_mask"`` is :class:`SSLMask`);
            ``config.routing`` and ``config.aux_reduction`` as the module docstring says.
        rng: Seed of the mask stream and of the [MASK] initialisation (normalised by
            ``np.random.default_rng``; a ``torch.Generator`` is seeded from it).
        towers: ``(user, item)`` sides of a factorised model (:class:`Tower`): the adapter
            is then a :class:`TowerAdapter`, whose weights keep the towers factorised.
            ``None`` (ranking): one :class:`StateAwareAdapter` over every ID field and count.

    Attributes:
        base: The wrapped model (its parameters are this module's parameters too).
        mask: The :class:`FeatureMask`, or ``None`` in modes without a mask.
        adapter: The :class:`StateAwareAdapter` (:class:`TowerAdapter` with ``towers``), or
            ``None`` in modes without one.
        last_parts_: :class:`LossParts` of the last :meth:`loss` call.

    Example:
        >>> from adaf2m2.toy import ToyModel, make_toy_batch
        >>> fw = AdaF2M2(ToyModel(), AdaF2M2Config(k=2), rng=0)
        >>> batch = make_toy_batch(8, rng=1)
        >>> fw.loss(batch).dim(), tuple(fw.predict(batch).shape)
        (0, (8, 1))
    """

    def __init__(
        self,
        base_model: WrappableModel,
        config: AdaF2M2Config,
        rng: RngLike = None,
        towers: tuple[Tower, Tower] | None = None,
    ):
        super().__init__()
        if config.mode not in _MODES:
            raise FrameworkConfigError(
                f"AdaF2M2Config.mode == {config.mode!r}, AdaF2M2 supports {_MODES}; use "
                "adaf2m2.build_framework('ssl_mask', ...) for the SSL baseline"
            )
        self.base = check_base_model(base_model)
        assert isinstance(self.base, nn.Module)
        self.config = config
        self.mode = config.mode
        self._generator = torch_generator(rng)
        self._task_weights = normalised_task_weights(config.task_weights, base_model.n_tasks)
        self.id_fields = tuple(base_model.id_fields)
        self.mask: FeatureMask | None = None
        self.adapter: StateAwareAdapter | TowerAdapter | None = None
        if self.mode in ("adaf2m2", "mask_only"):
            self.mask = FeatureMask(
                base_model.n_fields,
                base_model.embed_dim,
                beta=config.beta,
                gamma=config.gamma,
                init_std=config.mask_init_std,
                generator=self._generator,
            )
        if self.mode in ("adaf2m2", "adapter_only") and towers is not None:
            self.adapter = TowerAdapter(
                base_model.n_fields,
                base_model.embed_dim,
                *towers,
                hidden=config.adapter_hidden,
                init_bias=config.adapter_init_bias,
                generator=self._generator,
            )
        elif self.mode in ("adaf2m2", "adapter_only"):
            self.adapter = StateAwareAdapter(
                base_model.n_fields,
                base_model.embed_dim,
                n_id_fields=len(self.id_fields),
                hidden=config.adapter_hidden,
                init_bias=config.adapter_init_bias,
                generator=self._generator,
            )
        self.last_parts_: LossParts | None = None

    # -- delegation -------------------------------------------------------------------
    @property
    def n_tasks(self) -> int:
        """Number of tasks of the base model."""
        return int(self.base.n_tasks)

    def embed(self, batch: FeatureBatch) -> torch.Tensor:
        """The base model's field embeddings ``v``, ``(B, F, d)``."""
        v = self.base.embed(batch)
        expected = (len(batch), self.base.n_fields, self.base.embed_dim)
        if tuple(v.shape) != expected:
            raise BaseModelError(
                f"base_model.embed gave shape {tuple(v.shape)}, must be {expected}"
            )
        return v

    def head(self, v: torch.Tensor) -> torch.Tensor:
        """The base model's ``g``: ``(N, F, d) -> (N, n_tasks)`` logits."""
        return self.base.head(v)

    # -- the adapter ------------------------------------------------------------------
    def _weights(self, v: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        assert self.adapter is not None
        if isinstance(self.adapter, TowerAdapter):
            return self.adapter(v.detach(), counts.to(v.device))
        v_id = v.detach()[:, list(self.id_fields), :]
        return self.adapter(v_id, counts.to(v.device))

    def _weights_from(self, v: torch.Tensor, batch: FeatureBatch) -> torch.Tensor:
        return self._weights(v, batch.counts)

    def adapter_weights(self, batch: FeatureBatch) -> torch.Tensor:
        """The adapter's weights ``w`` for a batch, ``(B, F)`` (no gradient is recorded).

        Raises:
            FrameworkError: The mode has no adapter (``mask_only``, ``none``).
        """
        if self.adapter is None:
            raise FrameworkConfigError(
                f"AdaF2M2Config.mode == {self.mode!r} has no adapter; adapter weights exist in "
                "modes 'adaf2m2' and 'adapter_only'"
            )
        with torch.no_grad():
            return self._weights_from(self.embed(batch), batch)

    # -- serving ----------------------------------------------------------------------
    def predict(self, batch: FeatureBatch) -> torch.Tensor:
        """Serving logits, ``(B, n_tasks)``: ``head(w * v)`` with an adapter, else ``head(v)``.

        Never calls the mask: serving costs one base forward plus one adapter forward.
        """
        v = self.embed(batch)
        if self.adapter is None:
            return self.head(v)
        return self.head(self._weights_from(v, batch).unsqueeze(-1) * v)

    def forward(self, batch: FeatureBatch) -> torch.Tensor:
        """Same as :meth:`predict`."""
        return self.predict(batch)

    # -- training ---------------------------------------------------------------------
    def aux_loss(
        self, v: torch.Tensor, labels: torch.Tensor, row_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``L_aux``: BCE of ``k`` masked copies of ``v`` against their own labels.

        Each copy's loss is the mean over the batch (as ``L_main`` is); the copies' losses
        are summed (``aux_reduction == "sum"``, Eq. 3) or averaged (``"mean"``). The copies
        are ``(k*B, F, d)`` in k-major order and the labels are repeated in the same order
        (:func:`~adaf2m2.mask.repeat_k`), so one ``head`` call serves all ``k``.
        Gradients reach ``v`` (hence the embedding tables), ``[MASK]`` and ``head``.
        ``row_weights`` (``(B,)``, optional) weigh each example's copies as its main loss.
        """
        k = self.config.k
        v_mask = self.masked_copies(v)
        copies_weights = None if row_weights is None else repeat_k(row_weights, k)
        mean = multitask_bce(
            self.head(v_mask), repeat_k(labels, k), self._task_weights, copies_weights
        )
        return self.reduce_copies(mean)

    def masked_copies(self, v: torch.Tensor) -> torch.Tensor:
        """``k`` masked copies of ``v``, ``(k*B, F, d)`` in k-major order (Eq. 1).

        Drawn from the framework's own mask stream; gradients reach ``v`` and ``[MASK]``.
        """
        assert self.mask is not None
        v_mask, _ = self.mask(v, self.config.k, self._generator)
        return v_mask

    def reduce_copies(self, mean: torch.Tensor) -> torch.Tensor:
        """``L_aux`` from the mean loss over the ``k`` copies: times ``k`` for ``"sum"``."""
        return mean * self.config.k if self.config.aux_reduction == "sum" else mean

    def adapt(self, v: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The main forward's input: ``a = w * v`` routed (see the module), or ``v`` itself
        in modes without an adapter. ``counts`` are the rows' ``(B, 6)`` state counts."""
        if self.adapter is None:
            return v
        w = self._weights(v, counts).unsqueeze(-1)
        if self.config.routing == "strict":
            return w * v.detach()
        if self.config.routing == "straight_through":
            # Value w * v (v - v.detach() is exactly zero); gradient to v is dL/da, no w.
            return w * v.detach() + (v - v.detach())
        return w * v

    def _adapted(self, v: torch.Tensor, batch: FeatureBatch) -> torch.Tensor:
        """``a = w * v`` with the embeddings' gradient routed as ``config.routing`` says."""
        return self.adapt(v, batch.counts)

    def loss_tensors(self, batch: FeatureBatch) -> LossTensors:
        """All loss parts of a batch as graph-attached tensors (see the module table)."""
        labels = require_labels(batch, self.n_tasks).to(batch.fields.device)
        v = self.embed(batch)
        y_adapt = self.head(v) if self.adapter is None else self.head(self._adapted(v, batch))
        main = multitask_bce(y_adapt, labels, self._task_weights, batch.weights)
        if self.mask is None:
            aux = torch.zeros((), device=main.device, dtype=main.dtype)
            return LossTensors(main=main, aux=aux, total=main)
        aux = self.aux_loss(v, labels, batch.weights)
        return LossTensors(main=main, aux=aux, total=main + self.config.alpha * aux)

    def loss(self, batch: FeatureBatch) -> torch.Tensor:
        """``L = L_main + alpha * L_aux`` for one labelled batch; parts go to ``last_parts_``."""
        parts = self.loss_tensors(batch)
        self.last_parts_ = LossParts.of(parts.main, parts.aux, parts.total)
        return parts.total
