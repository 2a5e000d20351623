"""The feature mask of AdaF²M² (section 3.2 of the paper).

For each example, ``k`` mask rates ``p_1 .. p_k ~ U[beta, gamma]`` are drawn; in copy ``i``
each field ``f`` is replaced, independently with probability ``p_i``, by that field's own
learned embedding ``[MASK]_f``:

    v_mask^i = [v_1, ..., [MASK]_f, ..., v_n]        (the paper's Eq. 1)

The share of masked fields over many examples has mean ``E[p] = (beta + gamma) / 2`` (0.3
with the paper's 0.1 and 0.5).

Copies are laid out **k-major**: row ``i * B + b`` of the output is copy ``i`` of example
``b``. :func:`repeat_k` repeats labels (or any per-example tensor) in the same order; using
``repeat_interleave`` on one side and ``repeat`` on the other is the misalignment bug of a
public port.
"""

from __future__ import annotations

import torch
from torch import nn

from adaf2m2.errors import BaseModelError, FrameworkConfigError


def repeat_k(x: torch.Tensor, k: int) -> torch.Tensor:
    """Repeat a per-example tensor ``k`` times along dim 0 in the mask's k-major order.

    Row ``i * B + b`` of the result is ``x[b]``, the same order as :meth:`FeatureMask.forward`.

    Example:
        >>> repeat_k(torch.tensor([[0.0], [1.0]]), 2).flatten().tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    return x.repeat(k, *([1] * (x.dim() - 1)))


class FeatureMask(nn.Module):
    """Random replacement of field embeddings by per-field learned [MASK] embeddings.

    Args:
        n_fields: Number of fields ``F`` in ``v``.
        embed_dim: Embedding size ``d``.
        beta: Lower end of the mask rate ``U[beta, gamma]``.
        gamma: Upper end of the mask rate.
        init_std: Standard deviation of the normal initialisation of ``[MASK]``.
        generator: Optional generator used for the initialisation of ``[MASK]``.

    Shapes:
        ``forward(v (B, F, d), k, generator) -> (v_mask (k*B, F, d), mask (k*B, F) bool)``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> fm = FeatureMask(n_fields=4, embed_dim=3, beta=0.1, gamma=0.5, generator=g)
        >>> out, mask = fm(torch.zeros(5, 4, 3), k=2, generator=g)
        >>> tuple(out.shape), tuple(mask.shape)
        ((10, 4, 3), (10, 4))
    """

    def __init__(
        self,
        n_fields: int,
        embed_dim: int,
        beta: float = 0.1,
        gamma: float = 0.5,
        init_std: float = 0.05,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if n_fields < 1 or embed_dim < 1:
            raise FrameworkConfigError(
                f"FeatureMask(n_fields={n_fields}, embed_dim={embed_dim}), both must be >= 1"
            )
        if not 0.0 <= beta <= gamma <= 1.0:
            raise FrameworkConfigError(
                f"FeatureMask(beta={beta}, gamma={gamma}), must satisfy 0 <= beta <= gamma <= 1"
            )
        self.n_fields = n_fields
        self.embed_dim = embed_dim
        self.beta = float(beta)
        self.gamma = float(gamma)
        init = torch.randn(n_fields, embed_dim, generator=generator) * init_std
        self.mask_embeddings = nn.Parameter(init)
        """``(F, d)``: row ``f`` is ``[MASK]_f``."""

    def sample_mask(self, batch_size: int, k: int, generator: torch.Generator) -> torch.Tensor:
        """Draw the ``(k*B, F)`` boolean mask (True = replaced), k-major.

        Two stages: ``p ~ U[beta, gamma]`` of shape ``(k, B, 1)``, then
        ``mask ~ Bernoulli(p)`` per field.
        """
        rates = self.beta + (self.gamma - self.beta) * torch.rand(
            (k, batch_size, 1), generator=generator, device=generator.device
        )
        u = torch.rand((k, batch_size, self.n_fields), generator=generator, device=generator.device)
        return (u < rates).reshape(k * batch_size, self.n_fields)

    def forward(
        self, v: torch.Tensor, k: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Make ``k`` masked copies of ``v``; gradients flow to ``v`` and to ``[MASK]``.

        Args:
            v: ``(B, F, d)`` field embeddings.
            k: Number of copies, ``>= 1``.
            generator: The explicit random stream of the masks.

        Returns:
            ``(v_mask, mask)``: ``(k*B, F, d)`` copies in k-major order (row ``i*B + b`` is
            copy ``i`` of example ``b``) and the ``(k*B, F)`` boolean mask.
        """
        if v.dim() != 3 or v.shape[1:] != (self.n_fields, self.embed_dim):
            raise BaseModelError(
                f"v.shape == {tuple(v.shape)}, must be (B, {self.n_fields}, {self.embed_dim})"
            )
        if k < 1:
            raise FrameworkConfigError(f"k == {k}, must be >= 1")
        batch_size = v.shape[0]
        mask = self.sample_mask(batch_size, k, generator).to(v.device)
        # expand + reshape is k-major: the layout repeat_k reproduces for the labels.
        copies = v.unsqueeze(0).expand(k, *v.shape).reshape(k * batch_size, *v.shape[1:])
        filler = self.mask_embeddings.to(v.dtype).unsqueeze(0)
        return torch.where(mask.unsqueeze(-1), filler, copies), mask
