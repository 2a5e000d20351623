"""The A/B run's training-data designs (``experiment.training_data``) on a tiny world.

Each design changes what the A/B run's learners train on during the experiment days and
nothing else: the pre-period, the fork and the twin worlds are the same under every design.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from adasim.jobs.run_analysis import AB_TRAINING
from adasim.registry import build_agent
from simulator.config import Config
from simulator.engine.checkpoint import load_checkpoint
from simulator.engine.experiment import (
    RunLayout,
    _Weighted,
    build_world,
    run_experiment,
    run_pre_period,
    run_variant,
)
from simulator.engine.training_weights import ArmShareModel
from simulator.errors import ConfigError
from simulator.experiment_config import ExperimentConfig, TrainingDataName
from simulator.types import FeedbackBatch, Recommendation, RequestBatch
from tests.simulator.test_experiment import tiny_config


def _ab_run(tmp_path: Path, design: str, treatment: str) -> tuple[Config, RunLayout]:
    config = tiny_config(tmp_path, treatment, f"experiment.training_data={design!r}")
    layout = RunLayout(tmp_path / f"{design}_{treatment}")
    run_pre_period(config, layout, build_agent, progress=False)
    run_variant(config, layout, "ab", progress=False)
    return config, layout


def _agents(config: Config, path: Path) -> dict[str, object]:
    _, extra = load_checkpoint(path, build_world(config))
    agents: dict[str, object] = extra["agents"]
    return agents


def _parameters(agent: object) -> list[torch.Tensor]:
    ranker: torch.nn.Module = agent.ranker  # type: ignore[attr-defined]
    retrieval: torch.nn.Module = agent.retrieval_model  # type: ignore[attr-defined]
    return [p.detach().clone() for m in (ranker, retrieval) for p in m.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def _end(config: Config, layout: RunLayout) -> dict[str, object]:
    return _agents(config, layout.checkpoints("ab") / f"day-{config.experiment.n_days:04d}.pkl")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Config, RunLayout]]:
    root = tmp_path_factory.mktemp("designs")
    # Identical control and treatment arms (an A/A test between them), a third arm apart.
    designs = ("own_arm", "pooled", "snapshot", "weighted")
    return {design: _ab_run(root, design, "none") for design in designs}


def _assert_same_counters(agents: dict[str, object]) -> None:
    """Every arm's learner counted the same rows (it saw every arm's feedback)."""
    counters = [agents[a].counters for a in ("control", "treatment", "mask_only")]  # type: ignore[attr-defined]
    for other in counters[1:]:
        np.testing.assert_array_equal(counters[0].user_, other.user_)
        np.testing.assert_array_equal(counters[0].item_, other.item_)


def test_pooled_learners_see_the_same_rows(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["pooled"]
    agents = _end(config, layout)
    _assert_same_counters(agents)
    # Two identical arms that see the same rows in the same order end identical.
    assert _same(_parameters(agents["control"]), _parameters(agents["treatment"]))


def test_own_arm_learners_see_their_own_rows(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["own_arm"]
    agents = _end(config, layout)
    control, treatment = agents["control"], agents["treatment"]
    assert not np.array_equal(control.counters.user_, treatment.counters.user_)  # type: ignore[attr-defined]
    # The same arms, the same seeds, other users' feedback: other models (so the pooled
    # test above could fail).
    assert not _same(_parameters(control), _parameters(treatment))


def test_snapshot_changes_no_model_parameter(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["snapshot"]
    fork = _agents(config, layout.fork())
    end = _end(config, layout)
    for arm in ("control", "treatment", "mask_only"):
        assert _same(_parameters(fork[arm]), _parameters(end[arm])), arm
    # The own-arm design trains from the same fork, so the check can fail.
    config, layout = runs["own_arm"]
    trained = _end(config, layout)
    assert not _same(_parameters(fork["treatment"]), _parameters(trained["treatment"]))


def test_designs_share_the_pre_period(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    forks = {d: _agents(c, layout.fork()) for d, (c, layout) in runs.items()}
    for design in ("pooled", "snapshot", "weighted"):
        for arm in ("control", "treatment", "mask_only"):
            assert _same(_parameters(forks["own_arm"][arm]), _parameters(forks[design][arm]))


def test_unknown_design_is_refused(tmp_path: Path) -> None:
    rule = (
        r"training_data == 'mixed', must be one of \('own_arm', 'pooled', 'snapshot', "
        r"'weighted'\)"
    )
    with pytest.raises(ConfigError, match=rf"^{rule}$"):
        ExperimentConfig(training_data="mixed")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"experiment.training_data"):
        tiny_config(tmp_path, "none", "experiment.training_data='mixed'")


@pytest.mark.parametrize("design", ["own_arm", "pooled", "snapshot", "weighted"])
def test_twins_train_on_their_own_traffic_under_every_design(tmp_path: Path, design: str) -> None:
    from simulator.engine.experiment import VariantRunner

    config = tiny_config(tmp_path, "none", f"experiment.training_data={design!r}")
    agents = {name: object() for name in config.arms}
    for variant in ("twin_control", "twin_treatment"):
        runner = VariantRunner(config, RunLayout(tmp_path), variant, None, progress=False)  # type: ignore[arg-type]
        assert runner.policies(agents) == tuple(agents.values())  # type: ignore[arg-type]
        assert all(runner.trains_on(day) for day in range(config.experiment.n_days))
    ab = VariantRunner(config, RunLayout(tmp_path), "ab", None, progress=False)  # type: ignore[arg-type]
    pre = config.experiment.pre_days
    assert ab.trains_on(pre - 1)
    assert ab.trains_on(pre) == (design != "snapshot")
    own = design not in ("pooled", "weighted")
    assert (ab.policies(agents) == tuple(agents.values())) == own  # type: ignore[arg-type]


def test_weighted_learners_see_every_row(runs: dict[str, tuple[Config, RunLayout]]) -> None:
    config, layout = runs["weighted"]
    agents = _end(config, layout)
    _assert_same_counters(agents)
    # The same rows as the pooled learners, but weighted: other models.
    pooled = _end(*runs["pooled"])
    assert not _same(_parameters(agents["treatment"]), _parameters(pooled["treatment"]))


def test_weighted_run_resumes_with_its_arm_shares(
    runs: dict[str, tuple[Config, RunLayout]],
) -> None:
    # The day checkpoints carry the arm-share model, counted over the experiment's rows.
    config, layout = runs["weighted"]
    last = layout.checkpoints("ab") / f"day-{config.experiment.n_days:04d}.pkl"
    _, extra = load_checkpoint(last, build_world(config))
    events = pd.read_parquet(layout.events("ab") / "events")
    experiment = events[events["day"] >= config.experiment.pre_days]
    counts = extra["arm_shares"].counts
    assert counts.sum() == len(experiment)
    for i, arm in enumerate(config.arms):
        rows = experiment[experiment["arm"] == arm]
        np.testing.assert_array_equal(
            counts[:, i], np.bincount(rows["item_id"], minlength=counts.shape[0])
        )


def test_a_resumed_weighted_run_ends_as_an_uninterrupted_one(
    runs: dict[str, tuple[Config, RunLayout]], tmp_path: Path
) -> None:
    config, layout = runs["weighted"]
    resumed = RunLayout(tmp_path / "resumed")
    run_pre_period(config, resumed, build_agent, progress=False)
    run_variant(config, resumed, "ab", progress=False, keep_checkpoints="all")
    # A kill in the last day: its checkpoint is lost, and the run restarts from the end of
    # the first experiment day, whose checkpoint must give it the arm-share counts.
    resumed.done("ab").unlink()
    days = sorted(resumed.checkpoints("ab").glob("day-*.pkl"))
    assert [p.name for p in days[-2:]] == [f"day-{d:04d}.pkl" for d in (2, 3)]
    days[-1].unlink()
    run_variant(config, resumed, "ab", progress=False)
    a = pd.read_parquet(layout.events("ab") / "events")
    b = pd.read_parquet(resumed.events("ab") / "events")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert _same(
        _parameters(_end(config, layout)["treatment"]),
        _parameters(_end(config, resumed)["treatment"]),
    )


class _Recorder:
    """A learner that keeps what it was handed."""

    def __init__(self) -> None:
        self.seen: list[FeedbackBatch] = []

    def recommend(self, requests: object, rng: object) -> None:
        raise AssertionError("a learner of another arm never serves")

    def observe(self, feedback: FeedbackBatch) -> None:
        self.seen.append(feedback)


def _feedback(items: list[int]) -> FeedbackBatch:
    n = len(items)
    no = np.zeros(n, dtype=bool)
    requests = RequestBatch(
        minute=0,
        day=0,
        arm="x",
        user_ids=np.arange(n, dtype=np.int64),
        session_ids=np.arange(n, dtype=np.int64),
        steps=np.zeros(n, dtype=np.int64),
        n_items=10,
    )
    recommendation = Recommendation(np.asarray(items, np.int64), np.full(n, 0.5))
    seconds = np.full(n, 100.0)
    return FeedbackBatch(requests, recommendation, seconds, seconds, no, no, no, no, no)


def test_weighted_hands_each_learner_its_own_arms_weights() -> None:
    shares = ArmShareModel([0.25, 0.75], prior_rows=2.0)
    learners = (_Recorder(), _Recorder())
    arms = [_Weighted(_Recorder(), learners, i, shares) for i in range(2)]  # type: ignore[arg-type]
    arms[0].observe(_feedback([3, 3, 5]))
    arms[1].observe(_feedback([3, 7]))
    # After both batches: song 3 has 2 rows of arm 0 and 1 of arm 1; prior 0.5 / 1.5 rows.
    e3 = np.array([(2 + 0.5) / (3 + 2), (1 + 1.5) / (3 + 2)])
    e7 = np.array([0.5 / 3, 2.5 / 3])
    np.testing.assert_allclose(learners[0].seen[1].training_weight, [e3[0] / 0.25, e7[0] / 0.25])
    np.testing.assert_allclose(learners[1].seen[1].training_weight, [e3[1] / 0.75, e7[1] / 0.75])
    # Every learner gets every row, in arm order; the shares weigh the weights to 1.
    for learner in learners:
        assert [len(f.requests) for f in learner.seen] == [3, 2]
    for k in range(2):
        total = sum(
            p * learners[a].seen[k].training_weight  # type: ignore[operator]
            for a, p in enumerate((0.25, 0.75))
        )
        np.testing.assert_allclose(total, 1.0)


def test_arm_shares_reproduce_a_planted_assignment_probability() -> None:
    # A toy log: song s is shown by the treatment with planted probability q_s.
    rng = np.random.default_rng(11)
    p, n_songs, rows = 0.4, 8, 4000
    q = np.linspace(0.05, 0.95, n_songs)
    shares = ArmShareModel([1 - p, p], prior_rows=10.0)
    z = rng.random((n_songs, rows)) < q[:, None]
    songs = np.repeat(np.arange(n_songs), rows).reshape(n_songs, rows)
    for chunk in np.array_split(np.arange(rows), 7):  # arrives in batches, as a run's does
        shares.add(songs[:, chunk][~z[:, chunk]], 0)
        shares.add(songs[:, chunk][z[:, chunk]], 1)
    got = shares.probabilities(np.arange(n_songs))[:, 1]
    # Exact binomial 99.9% band of each song's treatment count, through the estimator.
    lo, hi = scipy.stats.binom.interval(0.999, rows, q)
    prior = 10.0
    assert np.all(got >= (lo + prior * p) / (rows + prior))
    assert np.all(got <= (hi + prior * p) / (rows + prior))
    # With a vanishing prior the weighted pooled log has the treatment's song counts
    # over p exactly: sum over song s's rows of E[Z | s] / p = n_T(s) / p.
    exact = ArmShareModel([1 - p, p], prior_rows=1e-12)
    exact.counts = shares.counts.copy()
    weighted = exact.weights(songs.ravel(), 1).reshape(n_songs, rows).sum(axis=1)
    np.testing.assert_allclose(weighted, z.sum(axis=1) / p, rtol=1e-9)
    # An unseen song gets the shares themselves: weight 1 in every arm.
    np.testing.assert_allclose(shares.weights(np.array([50]), 0), [1.0])


@pytest.mark.parametrize(
    ("shares", "prior", "message"),
    [
        ([1.0], 10.0, r"shares == \[1.0\], must be >= 2 positive shares summing to 1"),
        ([0.5, 0.6], 10.0, r"shares == \[0.5, 0.6\], must be"),
        ([0.5, 0.5], 0.0, r"prior_rows == 0.0, must be > 0"),
    ],
)
def test_arm_share_model_rejects(shares: list[float], prior: float, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{message}"):
        ArmShareModel(shares, prior)


def test_weighted_refuses_the_ssl_baseline(tmp_path: Path) -> None:
    message = (
        r"^arms\.treatment\.framework == 'ssl_mask', must not be with "
        r"experiment\.training_data == 'weighted'"
    )
    with pytest.raises(ConfigError, match=message):
        tiny_config(tmp_path, "ssl_mask", "experiment.training_data='weighted'")


def test_weighted_refuses_an_agent_that_would_ignore_the_weights(tmp_path: Path) -> None:
    class Unweighted:
        def recommend(self, requests: object, rng: object) -> None: ...

        def observe(self, feedback: object) -> None: ...

        def train(self) -> dict[str, float]:
            return {}

    def factory(name: str, arm: object, world: object, seed: object) -> object:
        return build_agent(name, arm, world, seed) if name != "mask_only" else Unweighted()  # type: ignore[arg-type]

    config = tiny_config(tmp_path, "none", "experiment.training_data='weighted'")
    message = (
        r"^experiment\.training_data == 'weighted', but arms\.mask_only\.agent \(Unweighted\) "
        r"trains without declaring accepts_training_weights = True"
    )
    with pytest.raises(ConfigError, match=message):
        run_experiment(config, tmp_path / "run", factory, progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()  # refused before any work


def test_every_design_is_described_in_the_report() -> None:
    assert set(AB_TRAINING) == set(get_args(TrainingDataName))
