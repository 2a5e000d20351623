"""Row-wise Adam: rows of ids absent from a batch do not move; otherwise it is Adam."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from adaf2m2.trainable import PlainModel
from agents.features import FeatureSpec
from agents.models.base import ModelConfig
from agents.models.registry import build_model
from agents.online import OnlineLearner
from agents.row_adam import RowwiseAdam, build_optimizer, embedding_tables
from simulator.types import FieldSpec

SPEC = FeatureSpec.from_fields(
    [FieldSpec("user_id", "user", "id", 40)],
    [FieldSpec("item_id", "item", "id", 30)],
    n_count_buckets=0,
)


def batch_rows(users: list[int], items: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fields = np.stack([np.array(users), np.array(items)], axis=1).astype(np.int64)
    counts = np.zeros((len(users), 6), np.float32)
    labels = (np.arange(len(users)) % 2).astype(np.float32)[:, None]
    return fields, counts, labels


def learner(rowwise: bool) -> tuple[OnlineLearner, nn.Module]:
    model = build_model("fm", SPEC, ModelConfig(embed_dim=4), torch.Generator().manual_seed(3))
    trainable = PlainModel(model)
    gen = torch.Generator().manual_seed(0)
    return OnlineLearner(trainable, SPEC, 1, 0.01, 64, gen, rowwise_embeddings=rowwise), model


@pytest.mark.parametrize("rowwise", [True, False])
def test_a_row_absent_from_the_batch_is_bit_identical_after_the_step(rowwise: bool) -> None:
    learn, model = learner(rowwise)
    learn.add(*batch_rows([0, 1, 2, 3], [0, 1, 2, 3]))
    learn.update()  # rows of users 0-3 and items 0-3 now have Adam moments
    before = model.embedding.weight.detach().clone()
    learn.add(*batch_rows([10, 11, 12, 13], [10, 11, 12, 13]))
    learn.update()
    after = model.embedding.weight.detach()
    # Rows of field user_id start at 0, of item_id after the user table and its OOV row.
    idle = [0, 1, 2, 3, 41 + 0, 41 + 1, 41 + 2, 41 + 3]
    present = [10, 11, 12, 13, 51, 52, 53, 54]
    assert not torch.equal(after[present], before[present])
    if rowwise:
        assert torch.equal(after[idle], before[idle])
    else:  # dense Adam: stale momentum moves the idle rows (what row-wise Adam prevents)
        assert not torch.equal(after[idle], before[idle])


def test_with_every_row_present_it_is_torch_adam_bit_for_bit() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Embedding(6, 4), nn.Flatten(), nn.Linear(24, 2))
    twin = copy.deepcopy(net)
    adam = torch.optim.Adam(net.parameters(), lr=0.01, foreach=False)
    rowwise = RowwiseAdam(
        [
            {"params": [twin[0].weight], "rowwise": True},
            {"params": list(twin[2].parameters())},
        ],
        lr=0.01,
    )
    idx = torch.arange(6).unsqueeze(0).repeat(3, 1)
    for step in range(15):
        target = torch.randn(3, 2, generator=torch.Generator().manual_seed(step))
        for model, opt in ((net, adam), (twin, rowwise)):
            opt.zero_grad()
            (model(idx) - target).pow(2).sum().backward()
            opt.step()
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_row_first_seen_late_takes_a_fresh_adam_step() -> None:
    table = nn.Embedding(3, 2)
    opt = RowwiseAdam([{"params": [table.weight], "rowwise": True}], lr=0.1)
    for _ in range(50):
        opt.zero_grad()
        table(torch.tensor([0])).sum().backward()
        opt.step()
    before = table.weight.detach().clone()
    opt.zero_grad()
    (3.0 * table(torch.tensor([2]))).sum().backward()
    opt.step()
    # Bias-corrected first step of row 2: lr * g / |g| = 0.1 per coordinate (eps aside).
    torch.testing.assert_close(before[2] - table.weight.detach()[2], torch.full((2,), 0.1))
    assert int(opt.state[table.weight]["step"][2]) == 1
    assert int(opt.state[table.weight]["step"][0]) == 50


def test_the_optimiser_puts_exactly_the_embedding_tables_in_the_rowwise_group() -> None:
    model = build_model("dcnv2", SPEC, ModelConfig(embed_dim=4), torch.Generator().manual_seed(1))
    opt = build_optimizer(PlainModel(model), 0.01)
    rowwise = [g for g in opt.param_groups if g["rowwise"]]
    assert [p for g in rowwise for p in g["params"]] == embedding_tables(model)
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    assert n_params == len(list(model.parameters()))
    assert isinstance(build_optimizer(model, 0.01, rowwise_embeddings=False), torch.optim.Adam)
