"""Configuration of the AdaF²M² framework, its ablations and the SSL baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from adaf2m2.errors import FrameworkConfigError

FrameworkMode = Literal["adaf2m2", "mask_only", "adapter_only", "ssl_mask", "none"]
"""Which training framework wraps the base model.

- ``"adaf2m2"``: feature mask and state-aware adapter with the paper's gradient routing.
- ``"mask_only"``: feature mask only (the paper's table 4, "w/ Feature Mask").
- ``"adapter_only"``: state-aware adapter only (table 4, "w/ Adapter").
- ``"ssl_mask"``: the self-supervised masking baseline of Yao et al. (2021).
- ``"none"``: the bare base model.
"""

FRAMEWORK_MODES: tuple[str, ...] = get_args(FrameworkMode)

Routing = Literal["joint", "strict", "straight_through"]
"""Which gradients the main loss sends to the embedding tables (modes with an adapter).

- ``"joint"``: ``L_main = BCE(head(w * v))`` trains embeddings, head and adapter (section
  3.4 of the paper: the framework, "including embeddings, the deep network, the adapter",
  is trained with ``L_main``); the embeddings' gradient is scaled by ``w`` (Eq. 5).
- ``"strict"``: the main forward uses ``v.detach()``: embeddings learn from the masked
  forwards only (one reading of section 3.3, "the adaptive weights have no influence on
  feature representation learning"; this project's routing before it had the option).
- ``"straight_through"``: the main loss reaches the embeddings as ``dL/d(w * v)``, without
  the factor ``w`` of Eq. 5 (the adapter still learns from ``L_main``).
"""

ROUTINGS: tuple[str, ...] = get_args(Routing)

AuxReduction = Literal["sum", "mean"]
"""How ``L_aux`` combines the ``k`` masked copies: ``"sum"`` (Eq. 3 sums over the copies, so
the auxiliary loss weighs ``k`` times one copy against ``L_main``) or ``"mean"``."""

AUX_REDUCTIONS: tuple[str, ...] = get_args(AuxReduction)


def _fail(key: str, value: object, rule: str) -> FrameworkConfigError:
    return FrameworkConfigError(f"AdaF2M2Config.{key} == {value!r}, {rule}")


@dataclass(frozen=True)
class AdaF2M2Config:
    """Hyper-parameters of AdaF²M² (section 3 of the paper) and of its comparators.

    Attributes:
        mode: Which framework to build; see :data:`FrameworkMode`.
        routing: Which gradients ``L_main`` sends to the embeddings; see :data:`Routing`.
            ``"joint"`` (the default) as section 3.4 of the paper trains the framework;
            ``"strict"`` needs a mask (in mode ``adapter_only`` the embeddings would never
            learn).
        aux_reduction: Sum (Eq. 3, the default) or mean of the ``k`` copies' losses; see
            :data:`AuxReduction`.
        k: Number of masked copies per example (the paper's ``k``; it gives no value, 2 is
            this project's default: training cost is about ``1 + k`` forwards of ``head``).
        beta: Lower end of the per-copy mask rate ``p ~ U[beta, gamma]`` (paper: 0.1).
        gamma: Upper end of the mask rate (paper: 0.5).
        alpha: Weight of the auxiliary masked loss, ``L = L_main + alpha * L_aux`` (0.2).
        adapter_hidden: Hidden layer sizes of the adapter MLP ``h`` (ReLU between layers).
        adapter_init_bias: Initial bias of the adapter's output layer. ``sigmoid(2.0)`` is
            about 0.88, so a fresh adapter starts close to the identity and the wrapped model
            starts close to the base model; the paper does not state an initialisation.
        mask_init_std: Standard deviation of the normal initialisation of the [MASK]
            embeddings.
        task_weights: Weights of the tasks in the multi-task BCE (normalised to sum 1);
            ``None`` averages the tasks equally.
        ssl_temperature: Temperature ``tau`` of the InfoNCE loss of the SSL baseline.
        ssl_weight: Weight of the contrastive loss, ``L = L_main + ssl_weight * L_self``
            (Yao et al. call it ``alpha``; kept apart from :attr:`alpha`).
        ssl_projection_dim: Output size of the SSL projection encoder.
        ssl_hidden: Hidden size of the SSL projection encoder.

    Raises:
        FrameworkConfigError: A value breaks its rule; the message names key, value, rule.

    Example:
        >>> AdaF2M2Config(k=3).k
        3
        >>> AdaF2M2Config(beta=0.6, gamma=0.5)
        Traceback (most recent call last):
        ...
        adaf2m2.errors.FrameworkConfigError: AdaF2M2Config.beta == 0.6, must be <= gamma == 0.5
    """

    mode: FrameworkMode = "adaf2m2"
    routing: Routing = "joint"
    aux_reduction: AuxReduction = "sum"
    k: int = 2
    beta: float = 0.1
    gamma: float = 0.5
    alpha: float = 0.2
    adapter_hidden: tuple[int, ...] = (64, 32)
    adapter_init_bias: float = 2.0
    mask_init_std: float = 0.05
    task_weights: tuple[float, ...] | None = None
    ssl_temperature: float = 0.1
    ssl_weight: float = 0.3
    ssl_projection_dim: int = 32
    ssl_hidden: int = 64

    def __post_init__(self) -> None:
        if self.mode not in FRAMEWORK_MODES:
            raise _fail("mode", self.mode, f"must be one of {FRAMEWORK_MODES}")
        if self.routing not in ROUTINGS:
            raise _fail("routing", self.routing, f"must be one of {ROUTINGS}")
        if self.routing == "strict" and self.mode == "adapter_only":
            raise _fail(
                "routing",
                self.routing,
                "needs a feature mask: in mode 'adapter_only' the embeddings would get no "
                "gradient at all (use 'joint' or 'straight_through')",
            )
        if self.aux_reduction not in AUX_REDUCTIONS:
            raise _fail("aux_reduction", self.aux_reduction, f"must be one of {AUX_REDUCTIONS}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise _fail("k", self.k, "must be an int >= 1")
        for key in ("beta", "gamma"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise _fail(key, value, "must be a number in [0, 1]")
        if self.beta > self.gamma:
            raise _fail("beta", self.beta, f"must be <= gamma == {self.gamma!r}")
        if not (math.isfinite(self.alpha) and self.alpha >= 0.0):
            raise _fail("alpha", self.alpha, "must be finite and >= 0")
        if not isinstance(self.adapter_hidden, tuple) or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.adapter_hidden
        ):
            raise _fail("adapter_hidden", self.adapter_hidden, "must be a tuple of ints >= 1")
        if not math.isfinite(self.adapter_init_bias):
            raise _fail("adapter_init_bias", self.adapter_init_bias, "must be finite")
        if not (math.isfinite(self.mask_init_std) and self.mask_init_std >= 0.0):
            raise _fail("mask_init_std", self.mask_init_std, "must be finite and >= 0")
        if self.task_weights is not None:
            tw = self.task_weights
            if (
                not isinstance(tw, tuple)
                or len(tw) == 0
                or any(not (math.isfinite(x) and x >= 0.0) for x in tw)
                or sum(tw) <= 0.0
            ):
                raise _fail(
                    "task_weights",
                    tw,
                    "must be None or a non-empty tuple of finite weights >= 0 with a positive sum",
                )
        if not (math.isfinite(self.ssl_temperature) and self.ssl_temperature > 0.0):
            raise _fail("ssl_temperature", self.ssl_temperature, "must be finite and > 0")
        if not (math.isfinite(self.ssl_weight) and self.ssl_weight >= 0.0):
            raise _fail("ssl_weight", self.ssl_weight, "must be finite and >= 0")
        for key in ("ssl_projection_dim", "ssl_hidden"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _fail(key, value, "must be an int >= 1")

    @property
    def mean_mask_rate(self) -> float:
        """Expected share of masked fields, ``E[p] = (beta + gamma) / 2``."""
        return (self.beta + self.gamma) / 2.0
