"""Tests for adaf2m2/mask.py: shapes, k-major layout, the two-stage mask rate, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.mask import FeatureMask, repeat_k

BAND_ALPHA = 1e-4  # two-sided level of each acceptance band


def _mask(n_fields: int = 6, d: int = 4, beta: float = 0.1, gamma: float = 0.5) -> FeatureMask:
    return FeatureMask(
        n_fields, d, beta=beta, gamma=gamma, generator=torch.Generator().manual_seed(0)
    )


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(1, 9),
    f=st.integers(1, 7),
    d=st.integers(1, 5),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**31),
)
def test_mask_keeps_shapes_and_replaces_only_with_mask_embeddings(
    b: int, f: int, d: int, k: int, seed: int
) -> None:
    fm = _mask(f, d)
    v = torch.randn(b, f, d, generator=torch.Generator().manual_seed(seed)) + 10.0
    out, mask = fm(v, k, torch.Generator().manual_seed(seed))
    assert out.shape == (k * b, f, d)
    assert mask.shape == (k * b, f)
    assert mask.dtype == torch.bool
    rows = torch.arange(k * b) % b  # k-major: row i*B + b is copy i of example b
    expected = torch.where(mask.unsqueeze(-1), fm.mask_embeddings.unsqueeze(0), v[rows])
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_repeat_k_matches_the_mask_layout_and_not_repeat_interleave() -> None:
    labels = torch.arange(4.0).unsqueeze(1)
    assert repeat_k(labels, 3).flatten().tolist() == [0, 1, 2, 3] * 3
    fm = _mask(beta=0.0, gamma=0.0)  # no masking: copy rows are the source rows
    v = torch.arange(4.0).reshape(4, 1, 1).expand(4, 6, 4).contiguous()
    out, _ = fm(v, 3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out[:, 0, 0:1], repeat_k(labels, 3))
    assert not torch.equal(out[:, 0, 0:1], labels.repeat_interleave(3, dim=0))


def test_same_generator_seed_same_mask_other_seed_other_mask() -> None:
    fm = _mask()
    v = torch.zeros(50, 6, 4)
    _, m1 = fm(v, 2, torch.Generator().manual_seed(3))
    _, m2 = fm(v, 2, torch.Generator().manual_seed(3))
    _, m3 = fm(v, 2, torch.Generator().manual_seed(4))
    assert torch.equal(m1, m2)
    assert not torch.equal(m1, m3)


def test_gradients_reach_v_and_mask_embeddings() -> None:
    fm = _mask()
    v = torch.randn(32, 6, 4, requires_grad=True)
    out, mask = fm(v, 2, torch.Generator().manual_seed(0))
    out.square().sum().backward()
    assert v.grad is not None
    assert fm.mask_embeddings.grad is not None
    assert v.grad.abs().sum() > 0
    assert fm.mask_embeddings.grad.abs().sum() > 0
    # A field never masked in any copy gets exactly the gradient of its k copies: 2 * k * v.
    never = ~mask.reshape(2, 32, 6).any(dim=0)
    torch.testing.assert_close(v.grad[never], (2 * 2 * v.detach())[never])


def _per_example_pmf(n_fields: int, beta: float, gamma: float) -> np.ndarray:
    """P(X = x) of the masked-field count of one copy: Binomial(F, p) mixed over U[beta, gamma]."""
    if gamma == beta:
        return stats.binom.pmf(np.arange(n_fields + 1), n_fields, beta)
    return np.array(
        [
            integrate.quad(lambda p, x=x: stats.binom.pmf(x, n_fields, p), beta, gamma)[0]
            / (gamma - beta)
            for x in range(n_fields + 1)
        ]
    )


@pytest.mark.parametrize(("beta", "gamma"), [(0.1, 0.5), (0.0, 1.0), (0.25, 0.25), (0.4, 0.9)])
def test_per_field_mask_rate_is_binomial_with_mean_of_the_uniform(
    beta: float, gamma: float
) -> None:
    # Marginally each (example, copy, field) indicator is Bernoulli(E[p]) with
    # E[p] = (beta + gamma) / 2 (0.3 for the paper's range) and independent across
    # (example, copy), since rates are drawn per copy; so the count of a field over n copies
    # is exactly Binomial(n, E[p]): an exact band per field.
    n_fields, n_examples, k = 6, 20_000, 2
    fm = _mask(n_fields, beta=beta, gamma=gamma)
    mask = fm.sample_mask(n_examples, k, torch.Generator().manual_seed(11))
    per_field = mask.sum(dim=0).numpy()
    n = n_examples * k
    a = BAND_ALPHA / n_fields  # Bonferroni over fields
    lo, hi = stats.binom.ppf([a / 2, 1 - a / 2], n, (beta + gamma) / 2)
    assert np.all(per_field >= lo), (per_field, lo)
    assert np.all(per_field <= hi), (per_field, hi)
    assert np.all(per_field > 0)  # each field gets masked


def test_total_mask_rate_within_exact_two_stage_band() -> None:
    # The total count is a sum of n iid per-copy counts X ~ Binomial(F, p), p ~ U[beta, gamma]
    # (correlated across fields within a copy). Its exact law is the n-fold convolution of
    # the mixture pmf; the band comes from that law, not from a plain binomial.
    n_fields, n_copies = 6, 4_000
    pmf = _per_example_pmf(n_fields, 0.1, 0.5)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    total = np.array([1.0])
    base, m = pmf, n_copies
    while m:  # exponentiation by squaring of the convolution
        if m & 1:
            total = np.convolve(total, base)
        base, m = np.convolve(base, base), m >> 1
    cdf = np.cumsum(total)
    lo = int(np.searchsorted(cdf, BAND_ALPHA / 2))
    hi = int(np.searchsorted(cdf, 1 - BAND_ALPHA / 2))
    mask = _mask(n_fields).sample_mask(n_copies, 1, torch.Generator().manual_seed(5))
    count = int(mask.sum())
    assert lo <= count <= hi, (count, lo, hi, 0.3 * n_fields * n_copies)


def test_rates_are_drawn_per_copy_not_fixed() -> None:
    # The per-copy masked-count histogram must fit the two-stage mixture and reject the
    # one-stage Binomial(F, 0.3) that a fixed rate would give (the test has power).
    n_fields, n_copies = 6, 20_000
    mask = _mask(n_fields).sample_mask(n_copies, 1, torch.Generator().manual_seed(7))
    observed = np.bincount(mask.sum(dim=1).numpy(), minlength=n_fields + 1)
    mixture = _per_example_pmf(n_fields, 0.1, 0.5) * n_copies
    one_stage = stats.binom.pmf(np.arange(n_fields + 1), n_fields, 0.3) * n_copies
    assert stats.chisquare(observed, mixture).pvalue > BAND_ALPHA
    assert stats.chisquare(observed, one_stage).pvalue < BAND_ALPHA


@pytest.mark.parametrize(
    ("args", "exc", "message"),
    [
        ({"n_fields": 0, "embed_dim": 4}, FrameworkConfigError, r"n_fields=0"),
        ({"n_fields": 3, "embed_dim": 0}, FrameworkConfigError, r"embed_dim=0"),
        (
            {"n_fields": 3, "embed_dim": 2, "beta": 0.6, "gamma": 0.5},
            FrameworkConfigError,
            r"beta=0.6, gamma=0.5\), must satisfy 0 <= beta <= gamma <= 1",
        ),
    ],
)
def test_invalid_mask_arguments(
    args: dict[str, object], exc: type[Exception], message: str
) -> None:
    with pytest.raises(exc, match=message):
        FeatureMask(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "k", "exc", "message"),
    [
        ((4, 5, 4), 1, BaseModelError, r"v.shape == \(4, 5, 4\), must be \(B, 6, 4\)"),
        ((4, 6), 1, BaseModelError, r"v.shape == \(4, 6\)"),
        ((4, 6, 4), 0, FrameworkConfigError, r"k == 0, must be >= 1"),
    ],
)
def test_invalid_forward_inputs(
    shape: tuple[int, ...], k: int, exc: type[Exception], message: str
) -> None:
    with pytest.raises(exc, match=message):
        _mask()(torch.zeros(shape), k, torch.Generator().manual_seed(0))
