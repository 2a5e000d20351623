"""Tests for adaf2m2/framework.py: gradient routing, label alignment, serving, modes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss

from adaf2m2.config import AdaF2M2Config
from adaf2m2.errors import BaseModelError, FrameworkConfigError
from adaf2m2.framework import AdaF2M2
from adaf2m2.mask import FeatureMask, repeat_k
from adaf2m2.protocol import FeatureBatch
from adaf2m2.toy import ToyModel, make_toy_batch
from adaf2m2.trainable import multitask_bce


def _grad_norms(loss: torch.Tensor, params: Iterable[torch.nn.Parameter]) -> list[float]:
    """Sum of |grad| per parameter; 0.0 where the loss does not depend on it."""
    plist = list(params)
    if not plist:
        return []
    grads = torch.autograd.grad(loss, plist, retain_graph=True, allow_unused=True)
    return [0.0 if g is None else float(g.abs().sum()) for g in grads]


def _groups(fw: AdaF2M2) -> dict[str, list[torch.nn.Parameter]]:
    base: Any = fw.base
    return {
        "embeddings": list(base.embedding_parameters()),
        "head": list(base.head_parameters()),
        "mask": [] if fw.mask is None else list(fw.mask.parameters()),
        "adapter": [] if fw.adapter is None else list(fw.adapter.parameters()),
    }


def _routing(
    mode: str, n_tasks: int = 1, routing: str = "joint", aux_reduction: str = "sum"
) -> dict[str, dict[str, list[float]]]:
    config = AdaF2M2Config(mode=mode, routing=routing, aux_reduction=aux_reduction, k=2)  # type: ignore[arg-type]
    fw = AdaF2M2(ToyModel(n_tasks=n_tasks), config, rng=0)
    parts = fw.loss_tensors(make_toy_batch(64, rng=1, n_tasks=n_tasks))
    out: dict[str, dict[str, list[float]]] = {}
    for loss_name, loss in (("main", parts.main), ("aux", parts.aux)):
        out[loss_name] = {
            g: (_grad_norms(loss, ps) if loss.requires_grad else [0.0] * len(ps))
            for g, ps in _groups(fw).items()
        }
    return out


@pytest.mark.parametrize("aux_reduction", ["sum", "mean"])
@pytest.mark.parametrize("routing", ["joint", "strict", "straight_through"])
@pytest.mark.parametrize("n_tasks", [1, 3])
def test_adaf2m2_gradient_routing(n_tasks: int, routing: str, aux_reduction: str) -> None:
    r = _routing("adaf2m2", n_tasks, routing, aux_reduction)
    # L_main: adapter and head learn; [MASK] gets exactly zero; the embedding tables get
    # exactly zero in the strict routing only.
    if routing == "strict":
        assert all(x == 0.0 for x in r["main"]["embeddings"])
    else:
        assert all(x > 0.0 for x in r["main"]["embeddings"])
    assert all(x == 0.0 for x in r["main"]["mask"])
    assert all(x > 0.0 for x in r["main"]["adapter"])
    assert all(x > 0.0 for x in r["main"]["head"])
    # L_aux: embeddings, [MASK] and head learn; the adapter gets exactly zero.
    assert all(x > 0.0 for x in r["aux"]["embeddings"])
    assert all(x > 0.0 for x in r["aux"]["mask"])
    assert all(x > 0.0 for x in r["aux"]["head"])
    assert all(x == 0.0 for x in r["aux"]["adapter"])


def _main_gradients(mode: str, routing: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``dL_main/dv`` from the framework, ``dL_main/da`` at ``a = w * v``, and ``w``."""
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(mode=mode, routing=routing), rng=0)  # type: ignore[arg-type]
    batch = make_toy_batch(16, rng=2)
    assert batch.labels is not None
    v = fw.embed(batch).detach().requires_grad_(True)
    y_adapt = fw.head(fw._adapted(v, batch))
    F.binary_cross_entropy_with_logits(y_adapt, batch.labels).backward()
    w = fw.adapter_weights(batch).unsqueeze(-1)
    a = (w * v.detach()).requires_grad_(True)
    F.binary_cross_entropy_with_logits(fw.head(a), batch.labels).backward()
    assert v.grad is not None
    assert a.grad is not None
    return v.grad, a.grad, w


@pytest.mark.parametrize("mode", ["adaf2m2", "adapter_only"])
def test_joint_routing_scales_the_embedding_gradient_by_w(mode: str) -> None:
    # Eq. 5: dL/dv = w * dL/da.
    dv, da, w = _main_gradients(mode, "joint")
    torch.testing.assert_close(dv, w * da)


@pytest.mark.parametrize("mode", ["adaf2m2", "adapter_only"])
def test_straight_through_routing_passes_dl_da_to_the_embeddings(mode: str) -> None:
    dv, da, w = _main_gradients(mode, "straight_through")
    torch.testing.assert_close(dv, da)
    assert not torch.allclose(dv, w * da)  # the factor w really is absent


def test_strict_routing_gives_the_embeddings_no_main_gradient() -> None:
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(routing="strict"), rng=0)
    batch = make_toy_batch(16, rng=2)
    v = fw.embed(batch).detach().requires_grad_(True)
    out = fw.head(fw._adapted(v, batch)).sum()
    (grad,) = torch.autograd.grad(out, [v], allow_unused=True)
    assert grad is None


def test_routings_share_their_forward_values() -> None:
    # The routing changes gradients only: the main loss, the prediction and the adapted
    # embeddings are the same numbers in every routing (same seed, same weights).
    batch = make_toy_batch(32, rng=11)
    mains, preds = set(), set()
    for routing in ("joint", "strict", "straight_through"):
        fw = AdaF2M2(ToyModel(), AdaF2M2Config(routing=routing), rng=0)  # type: ignore[arg-type]
        mains.add(float(fw.loss_tensors(batch).main.detach()))
        preds.add(fw.predict(batch).detach().numpy().tobytes())
    assert len(mains) == 1
    assert len(preds) == 1


@pytest.mark.parametrize("k", [1, 2, 3])
def test_aux_sum_is_k_times_the_mean(k: int) -> None:
    batch = make_toy_batch(32, rng=12)
    assert batch.labels is not None

    def aux(reduction: str) -> tuple[float, torch.Tensor]:
        fw = AdaF2M2(ToyModel(), AdaF2M2Config(k=k, aux_reduction=reduction), rng=0)  # type: ignore[arg-type]
        v = fw.embed(batch)
        loss = fw.aux_loss(v, batch.labels)
        (grad,) = torch.autograd.grad(loss, [v])
        return float(loss.detach()), grad

    total, grad_sum = aux("sum")
    mean, grad_mean = aux("mean")
    assert total == pytest.approx(k * mean, rel=1e-6)
    torch.testing.assert_close(grad_sum, k * grad_mean)


def test_routing_and_reduction_are_checked() -> None:
    with pytest.raises(FrameworkConfigError, match=r"AdaF2M2Config.routing == 'strict', needs"):
        AdaF2M2Config(mode="adapter_only", routing="strict")
    with pytest.raises(FrameworkConfigError, match=r"AdaF2M2Config.routing == 'detach', must"):
        AdaF2M2Config(routing="detach")  # type: ignore[arg-type]
    with pytest.raises(FrameworkConfigError, match=r"aux_reduction == 'max', must be one of"):
        AdaF2M2Config(aux_reduction="max")  # type: ignore[arg-type]


def test_mask_only_gradient_routing() -> None:
    r = _routing("mask_only")
    assert all(x > 0.0 for x in r["main"]["embeddings"] + r["main"]["head"])
    assert all(x == 0.0 for x in r["main"]["mask"])
    assert all(x > 0.0 for x in r["aux"]["embeddings"] + r["aux"]["mask"] + r["aux"]["head"])
    assert r["main"]["adapter"] == r["aux"]["adapter"] == []


def test_adapter_only_gradient_routing() -> None:
    r = _routing("adapter_only")
    # Without the mask the embeddings must learn from L_main, through w (the paper's Eq. 5).
    assert all(x > 0.0 for x in r["main"]["embeddings"] + r["main"]["adapter"] + r["main"]["head"])
    assert r["main"]["mask"] == []


@pytest.mark.parametrize("k", [1, 2, 3])
def test_aux_labels_align_with_their_copies(k: int) -> None:
    # With beta = gamma = 0 nothing is masked: every copy equals its source example, so a
    # correctly aligned L_aux equals the plain BCE of head(v). Labels are distinct across
    # examples, so a misordered repeat gives a different value (checked for k > 1).
    model = ToyModel()
    with torch.no_grad():  # spread the logits so that label order matters to the loss
        last: Any = model.mlp[-1]
        last.weight.mul_(100.0)
    fw = AdaF2M2(model, AdaF2M2Config(k=k, beta=0.0, gamma=0.0, aux_reduction="mean"), rng=0)
    plain = make_toy_batch(32, rng=3)
    v = fw.embed(plain).detach()
    logits_t = fw.head(v).detach()
    # Labels the model mostly gets right: any misordering then costs a lot of loss.
    labels = (logits_t > logits_t.median()).float()
    aux = fw.aux_loss(v, labels).detach()
    logits = logits_t.numpy().ravel()
    y = labels.numpy().ravel()
    # Golden value: sklearn.metrics.log_loss on the un-augmented predictions.
    golden = log_loss(y, 1 / (1 + np.exp(-logits)), labels=[0, 1])
    assert float(aux) == pytest.approx(golden, rel=1e-5)
    if k > 1:
        wrong_labels = labels.repeat_interleave(k, dim=0)
        v_copies = v.unsqueeze(0).expand(k, *v.shape).reshape(k * len(plain), *v.shape[1:])
        wrong = F.binary_cross_entropy_with_logits(fw.head(v_copies), wrong_labels)
        assert float(wrong.detach()) > golden + 0.1


@pytest.mark.parametrize("k", [1, 2, 3])
def test_aux_head_inputs_are_copies_of_their_own_examples(k: int) -> None:
    # With masking on, every row fed to head in the aux pass must agree with the example
    # whose label it is paired with on all unmasked fields.
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(k=k), rng=0)
    batch = make_toy_batch(16, rng=4)
    assert batch.labels is not None
    assert fw.mask is not None
    seen: list[torch.Tensor] = []
    original_head = fw.base.head

    def spy(v: torch.Tensor) -> torch.Tensor:
        seen.append(v.detach())
        return original_head(v)

    fw.base.head = spy  # type: ignore[method-assign]
    v = fw.embed(batch).detach()
    fw.aux_loss(v, batch.labels)
    (rows,) = seen
    labels_k = repeat_k(batch.labels, k)
    for r in range(k * len(batch)):
        unmasked = ~torch.isclose(rows[r], fw.mask.mask_embeddings.detach()).all(dim=1)
        src = r % len(batch)
        torch.testing.assert_close(rows[r][unmasked], v[src][unmasked])
        assert torch.equal(labels_k[r], batch.labels[src])


def test_total_loss_is_main_plus_alpha_aux() -> None:
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(alpha=0.2), rng=0)
    total = fw.loss(make_toy_batch(32, rng=5))
    parts = fw.last_parts_
    assert parts is not None
    assert float(total.detach()) == pytest.approx(parts.main + 0.2 * parts.aux, rel=1e-6)
    assert parts.total == pytest.approx(float(total.detach()))


def test_multitask_bce_matches_sklearn_per_task() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(40, 3, generator=gen)
    labels = (torch.rand(40, 3, generator=gen) < 0.4).float()
    weights = torch.tensor([0.5, 0.25, 0.25])
    got = float(multitask_bce(logits, labels, weights))
    p = torch.sigmoid(logits).numpy()
    golden = sum(
        float(w) * log_loss(labels[:, t].numpy(), p[:, t], labels=[0, 1])
        for t, w in enumerate(weights)
    )
    assert got == pytest.approx(golden, rel=1e-5)


@pytest.mark.parametrize("mode", ["adaf2m2", "mask_only"])
def test_serving_never_calls_the_mask(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"mask": 0, "embed": 0, "head": 0, "adapter": 0}
    original = FeatureMask.forward

    def counting(self: FeatureMask, *args: Any, **kwargs: Any) -> Any:
        calls["mask"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FeatureMask, "forward", counting)
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(mode=mode, k=3), rng=0)  # type: ignore[arg-type]
    for name, module in (("embed", fw.base), ("head", fw.base)):
        fn = getattr(module, name)

        def wrapped(*a: Any, _fn: Any = fn, _name: str = name) -> Any:
            calls[_name] += 1
            return _fn(*a)

        monkeypatch.setattr(module, name, wrapped)
    if fw.adapter is not None:
        fw.adapter.register_forward_hook(
            lambda *_: calls.__setitem__("adapter", calls["adapter"] + 1)
        )
    batch = make_toy_batch(8, rng=6)
    fw.predict(batch)
    fw(batch)
    with torch.no_grad():
        fw.predict(batch)
    # Serving = one base forward (embed + head) plus one adapter forward, per call.
    assert calls == {"mask": 0, "embed": 3, "head": 3, "adapter": 3 if mode == "adaf2m2" else 0}
    fw.loss(batch)  # the counter works: training calls the mask once for all k copies
    assert calls["mask"] == 1


def test_prediction_is_head_of_weighted_embeddings() -> None:
    fw = AdaF2M2(ToyModel(n_tasks=2), AdaF2M2Config(), rng=0)
    batch = make_toy_batch(10, rng=7, n_tasks=2)
    w = fw.adapter_weights(batch)
    expected = fw.base.head(w.unsqueeze(-1) * fw.base.embed(batch))
    torch.testing.assert_close(fw.predict(batch), expected)
    assert fw.predict(batch).shape == (10, 2)


def test_same_seed_same_loss_other_seed_other_masks() -> None:
    batch = make_toy_batch(32, rng=8)

    def aux(seed: int) -> float:
        fw = AdaF2M2(ToyModel(), AdaF2M2Config(), rng=seed)
        fw.loss(batch)
        assert fw.last_parts_ is not None
        return fw.last_parts_.aux

    assert aux(1) == aux(1)
    assert aux(1) != aux(2)


def test_training_reduces_the_loss_in_every_mode() -> None:
    for mode in ("adaf2m2", "mask_only", "adapter_only", "none"):
        fw = AdaF2M2(ToyModel(), AdaF2M2Config(mode=mode), rng=0)  # type: ignore[arg-type]
        opt = torch.optim.Adam(fw.parameters(), lr=0.01)
        test = make_toy_batch(2000, rng=99)
        assert test.labels is not None
        with torch.no_grad():
            before = F.binary_cross_entropy_with_logits(fw.predict(test), test.labels)
        for step in range(60):
            opt.zero_grad()
            fw.loss(make_toy_batch(256, rng=step)).backward()
            opt.step()
        with torch.no_grad():
            after = F.binary_cross_entropy_with_logits(fw.predict(test), test.labels)
        assert float(after) < float(before) - 0.02, (mode, float(before), float(after))


def test_adapter_weights_need_an_adapter() -> None:
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(mode="mask_only"), rng=0)
    with pytest.raises(FrameworkConfigError, match=r"mode == 'mask_only' has no adapter"):
        fw.adapter_weights(make_toy_batch(4, rng=0))


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (
            lambda: AdaF2M2(ToyModel(), AdaF2M2Config(mode="ssl_mask")),
            FrameworkConfigError,
            r"ssl_mask",
        ),
        (lambda: AdaF2M2(object(), AdaF2M2Config()), BaseModelError, r"must be a torch.nn.Module"),  # type: ignore[arg-type]
        (
            lambda: AdaF2M2(torch.nn.Linear(2, 2), AdaF2M2Config()),  # type: ignore[arg-type]
            BaseModelError,
            r"lacks \['n_fields'",
        ),
        (
            lambda: AdaF2M2(ToyModel(id_fields=(0, 9)), AdaF2M2Config()),
            BaseModelError,
            r"id_fields contains 9, must be positions in \[0, 6\)",
        ),
        (
            lambda: AdaF2M2(ToyModel(), AdaF2M2Config(task_weights=(1.0, 1.0))),
            BaseModelError,
            r"task_weights has 2 entries, must equal the base model's n_tasks == 1",
        ),
    ],
)
def test_invalid_construction(make: Any, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        make()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (None, r"batch.labels is None"),
        (torch.zeros(8, 2), r"batch.labels.shape == \(8, 2\), must be \(B, n_tasks\) == \(8, 1\)"),
    ],
)
def test_invalid_batches(labels: torch.Tensor | None, message: str) -> None:
    fw = AdaF2M2(ToyModel(), AdaF2M2Config(), rng=0)
    good = make_toy_batch(8, rng=0)
    with pytest.raises(BaseModelError, match=message):
        fw.loss(FeatureBatch(fields=good.fields, counts=good.counts, labels=labels))
