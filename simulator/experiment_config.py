"""Configuration of a simulated A/B experiment: its periods and its arms.

Pure data (no torch): the composition root (``adasim.registry.build_agent``) builds each
arm's agent from its :class:`ArmConfig`. Rules are checked in ``__post_init__`` and
raise :class:`~simulator.errors.ConfigError` naming the field, the value and the rule; the
TOML loader adds the dotted path (``arms.treatment.k == 0, must be >= 1``).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

from simulator.errors import ConfigError

AgentKind = Literal["two_stage", "random", "popular", "oracle"]
FrameworkName = Literal["none", "adaf2m2", "mask_only", "adapter_only", "ssl_mask"]
RankingModelName = Literal["fm", "youtube_dnn", "afn", "dcnv2", "eulernet"]
RetrievalModelName = Literal["youtube_dnn", "fm"]
ExplorationName = Literal["softmax", "epsilon_greedy", "greedy"]
RetrievalLossName = Literal["sampled_softmax", "pointwise"]
ExploreSourceName = Literal["uniform", "fresh"]
RoutingName = Literal["joint", "strict", "straight_through"]
AuxReductionName = Literal["sum", "mean"]
TrainingDataName = Literal["own_arm", "pooled", "snapshot", "weighted"]
TaskName = Literal["finish", "like", "comment", "dislike", "listen_fraction"]


AGENT_KINDS: tuple[str, ...] = get_args(AgentKind)
"""The built-in agents an arm may name (``[arms.X] agent``); else a factory path."""

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_FACTORY_PATH = re.compile(rf"{_DOTTED}:{_DOTTED}")

SEED_NEUTRAL_VALUES: dict[str, object] = {
    "retrieval_loss": "pointwise",
    "retrieval_negatives": 256,
    "retrieval_temperature": 0.05,
    "explore_share": 0.0,
    "explore_source": "uniform",
    "fresh_days": 7,
    "rowwise_embeddings": False,
    "retrieval_framework": "none",
}
"""Arm options added after the agents' seed rule was fixed, with the value that gives the
agent as it was before the option existed: at that value an option is left out of the seed
digest (``simulator.engine.experiment.agent_seed``), whatever the current default, so a config
keeps its agents' seeds when an option is added or a default moves. A new option goes
here with its neutral value."""

SEED_NEUTRAL_BY_FRAMEWORK: dict[str, dict[str, object]] = {
    "routing": {"adaf2m2": "strict", "adapter_only": "joint"},
    "aux_reduction": {"adaf2m2": "mean", "mask_only": "mean"},
}
"""Framework options added later, whose earlier value depended on the framework: neutral
at the listed value under a listed framework, and at any value under the others (where the
option changes nothing, so a bare arm keeps its seed). A retrieval framework that uses the
option (one of the listed ones) puts it in the digest whatever its value: such agents are
newer than the option, so there is no earlier seed to keep."""


def is_seed_neutral(arm: ArmConfig, name: str) -> bool:
    """Whether option ``name`` of ``arm`` stays out of the agent-seed digest."""
    if name in SEED_NEUTRAL_VALUES:
        return bool(getattr(arm, name) == SEED_NEUTRAL_VALUES[name])
    if name in SEED_NEUTRAL_BY_FRAMEWORK:
        earlier = SEED_NEUTRAL_BY_FRAMEWORK[name]
        if arm.retrieval_framework in earlier:
            return False
        return arm.framework not in earlier or getattr(arm, name) == earlier[arm.framework]
    return False


N_VARIANTS = 3
"""Parallel parts of an experiment: the A/B run and the two twins."""


def _fail(name: str, value: object, rule: str) -> None:
    raise ConfigError(f"{name} == {value!r}, {rule}")


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity where the platform has one.

    ``os.cpu_count()`` counts the machine's cores, which a container or ``taskset`` may
    not grant; the affinity mask is what the scheduler will actually use.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def is_factory_path(agent: str) -> bool:
    """Whether ``agent`` names a custom agent's factory, ``"package.module:attr"``.

    The syntax only: the composition root imports the module and calls the factory.
    """
    return _FACTORY_PATH.fullmatch(agent) is not None


def _agent_rule(value: object) -> str:
    """The rule for ``agent``."""
    return (
        "must be one of "
        + ", ".join(repr(k) for k in AGENT_KINDS)
        + ", or a custom agent's factory 'package.module:factory'"
    )


@dataclass(frozen=True)
class ArmConfig:
    """One arm: which agent serves its users and how it learns.

    Attributes:
        agent: ``two_stage`` (retrieval, ranking, exploration; learns online), a built-in
            policy that needs no torch (``random``, ``popular``, ``oracle``), or a custom
            agent's factory ``"package.module:factory"`` (see ``docs/agents.md``): only its
            syntax is checked here; the composition root imports and calls it. The
            two-stage fields below are ignored by the other agents (a factory may read them).
        share: Share of the experiment's users hashed into this arm; shares of all arms
            must sum to 1.
        ranking_model: Base model of the ranking stage.
        framework: Training framework around the ranking model (``none`` = bare model).
        retrieval_model: Base model of the retrieval stage (scored by dot product).
        retrieval_framework: Training framework around the retrieval model (``none``, the
            default: the bare two-tower or FM). Built with the arm's ``k``, ``alpha``,
            ``beta``, ``gamma``, ``routing`` and ``aux_reduction``; the adapter is
            tower-wise (user fields weighted from the user's state, item fields from the
            item's), so the towers stay factorised and the item table precomputed
            (``agents/retrieval_framework.py``, ``docs/methods/adaf2m2.md``). Works with
            either ``retrieval_loss``.
        retrieval_loss: How retrieval learns: ``sampled_softmax`` over the catalogue on
            positive feedback (finish or like; in-batch plus ``retrieval_negatives``
            uniform negatives, log-Q corrected, cosine scores: ``agents/sampled_softmax.py``)
            or ``pointwise`` (binary cross-entropy of the first task on the arm's own
            impressions; the default: the sampled softmax retrieved no more personal lists
            and cost duration in the measured comparison, docs/results/agents.md).
        retrieval_negatives: Uniform negatives per mini-batch of the sampled softmax.
        retrieval_temperature: Temperature of the sampled softmax's cosine scores.
        n_candidates: Items per request passed to ranking (retrieved plus exploration).
        explore_share: Share of the candidate slots given to an exploration source
            (``round(explore_share * n_candidates)`` slots; ``agents/exploration_candidates.py``).
        explore_source: ``uniform`` (the catalogue released so far) or ``fresh`` (songs
            released in the last ``fresh_days`` days).
        fresh_days: Age in days below which a song counts as fresh.
        exploration: Serving policy over the ranking scores.
        temperature: Softmax temperature over the ranking score (a probability scale).
            0.2, with ``explore_share`` 0.2: the serving policy that keeps daily coverage
            above a quarter of the oracle's in the default world (docs/results/agents.md;
            0.05 showed 23-130 songs a day, 0.1 76-1,030, the oracle 454-496).
        epsilon: Exploration rate of epsilon-greedy.
        tasks: Ranking tasks (multi-task head); the first is the one retrieval learns.
        score_weights: Serving score = sum of weight * predicted probability per task.
        embed_dim: Embedding size of both stages.
        hidden_dims: Deep network widths.
        lr: Adam learning rate of both stages (0.005: what ``adasim tune`` chose for both
            arms of the default config with dense Adam and the strict routing;
            ``configs/default.toml`` sets each arm's current choice, docs/tuning.md).
        batch_size: Mini-batch size of online updates.
        k: Masked copies per example (AdaF²M²).
        alpha: Weight of the auxiliary masked loss (AdaF²M²).
        beta: Lower end of the mask rate.
        gamma: Upper end of the mask rate.
        routing: Which gradients AdaF²M²'s main loss sends to the embeddings: ``joint``
            (section 3.4 of the paper; scaled by the adapter's weights, Eq. 5), ``strict``
            (none: embeddings learn from the masked copies only; the project's routing
            before the option) or ``straight_through`` (without the weights' factor). Used
            by ``adaf2m2`` and ``adapter_only`` (which cannot take ``strict``), in
            ``framework`` and in ``retrieval_framework`` alike.
        aux_reduction: ``sum`` (Eq. 3) or ``mean`` of the masked copies' losses.
        train_every_minutes: Simulated minutes between online updates.
        warm_start_epochs: Extra passes over the pre-period data when the experiment starts.
        replay_rows: Recent examples kept for the warm start (memory bound).
        history_train_rows: The most recent rows of the history log each stage is
            pre-trained on (0: none); the counters count every row. A bound on the cost of
            pre-training: the log of a large world has millions of rows.
        history_epochs: Passes over those rows.
        id_capacity: Rows of each ID embedding table (user, item, artist), fixed up front
            as a production system fixes them; ids that arrive beyond it share the field's
            out-of-vocabulary row. Nothing is sized from the future population.
        rowwise_embeddings: Row-wise Adam on the embedding tables, so rows of ids absent
            from a batch do not move (``agents/row_adam.py``); ``false``: dense Adam.
    """

    agent: str = field(default="two_stage", metadata={"rule": _agent_rule})
    share: float = 0.5
    ranking_model: RankingModelName = "dcnv2"
    framework: FrameworkName = "none"
    retrieval_model: RetrievalModelName = "youtube_dnn"
    retrieval_framework: FrameworkName = "none"
    retrieval_loss: RetrievalLossName = "pointwise"
    retrieval_negatives: int = 256
    retrieval_temperature: float = 0.05
    n_candidates: int = 20
    explore_share: float = 0.2
    explore_source: ExploreSourceName = "uniform"
    fresh_days: int = 7
    exploration: ExplorationName = "softmax"
    temperature: float = 0.2
    epsilon: float = 0.05
    tasks: tuple[TaskName, ...] = ("finish", "like", "comment", "dislike")
    score_weights: tuple[float, ...] = (1.0, 0.5, 0.5, -0.5)
    embed_dim: int = 8
    hidden_dims: tuple[int, ...] = (64, 32)
    lr: float = 0.005
    batch_size: int = 256
    k: int = 2
    alpha: float = 0.2
    beta: float = 0.1
    gamma: float = 0.5
    routing: RoutingName = "joint"
    aux_reduction: AuxReductionName = "sum"
    train_every_minutes: int = 60
    warm_start_epochs: int = 1
    replay_rows: int = 400_000
    history_train_rows: int = 300_000
    history_epochs: int = 1
    id_capacity: int = 32_768
    rowwise_embeddings: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.agent, str) or not (
            self.agent in AGENT_KINDS or is_factory_path(self.agent)
        ):
            _fail("agent", self.agent, _agent_rule(self.agent))
        if not 0.0 < self.share <= 1.0:
            _fail("share", self.share, "must be in (0, 1]")
        for name in (
            "n_candidates",
            "embed_dim",
            "batch_size",
            "k",
            "train_every_minutes",
            "id_capacity",
            "retrieval_negatives",
            "fresh_days",
        ):
            if getattr(self, name) < 1:
                _fail(name, getattr(self, name), "must be >= 1")
        if self.warm_start_epochs < 0:
            _fail("warm_start_epochs", self.warm_start_epochs, "must be >= 0")
        for name in ("replay_rows", "history_train_rows", "history_epochs"):
            if getattr(self, name) < 0:
                _fail(name, getattr(self, name), "must be >= 0")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            _fail("temperature", self.temperature, "must be > 0")
        if not 0.0 <= self.epsilon <= 1.0:
            _fail("epsilon", self.epsilon, "must be in [0, 1]")
        if not (self.retrieval_temperature > 0 and math.isfinite(self.retrieval_temperature)):
            _fail("retrieval_temperature", self.retrieval_temperature, "must be > 0")
        if not 0.0 <= self.explore_share < 1.0:
            _fail("explore_share", self.explore_share, "must be in [0, 1)")
        if self.explore_slots >= self.n_candidates and self.explore_slots:
            _fail(
                "explore_share",
                self.explore_share,
                f"must leave at least one retrieved candidate of n_candidates == {self.n_candidates}",
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            _fail("lr", self.lr, "must be > 0")
        if not self.tasks or len(set(self.tasks)) != len(self.tasks):
            _fail("tasks", self.tasks, "must name at least one task, none twice")
        if len(self.score_weights) != len(self.tasks):
            _fail(
                "score_weights",
                self.score_weights,
                f"must have one weight per task ({len(self.tasks)}: {self.tasks})",
            )
        if any(h < 1 for h in self.hidden_dims):
            _fail("hidden_dims", self.hidden_dims, "every width must be >= 1")
        if not 0.0 <= self.beta <= self.gamma <= 1.0:
            _fail("beta", self.beta, f"must satisfy 0 <= beta <= gamma ({self.gamma}) <= 1")
        if not (self.alpha >= 0 and math.isfinite(self.alpha)):
            _fail("alpha", self.alpha, "must be >= 0")
        for stage, name in (("", "framework"), ("retrieval ", "retrieval_framework")):
            if self.routing == "strict" and getattr(self, name) == "adapter_only":
                _fail(
                    "routing",
                    self.routing,
                    f"needs a feature mask: {name} 'adapter_only' would leave the {stage}"
                    "embeddings without gradient (use 'joint' or 'straight_through')",
                )

    @property
    def explore_slots(self) -> int:
        """Candidate slots filled by the exploration source (half rounded up)."""
        return math.floor(self.explore_share * self.n_candidates + 0.5)


@dataclass(frozen=True)
class ExperimentConfig:
    """The experiment's clock and its switches.

    Days ``0 .. pre_days - 1`` are the pre-period (everyone on the control arm, both arms'
    learners warm up on its feedback; CUPED covariates); days ``pre_days .. pre_days +
    days - 1`` are the experiment. Users are hashed into arms with ``salt``.

    Attributes:
        pre_days: Length of the pre-period in days.
        days: Length of the experiment in days.
        control: Name of the control arm (serves the pre-period and the twin's control).
        treatment: Name of the treatment arm of the twin and of the headline table.
        salt: Salt of the assignment hash (a new salt re-randomises users).
        twin: Also run the twin worlds (everyone on control; everyone on treatment) with
            the same random numbers, to report the true effect beside the estimate.
        workers: Processes for the A/B run and the two twin runs (1 = one after another;
            results do not depend on it), and for the arms' pre-training (at most one per
            core). ``0``, the default, means all three parts at once on two or more cores
            (``max(3, available_cores())``; 1 on one core) and is resolved when the
            config is built (a run's ``config.toml`` records the number used). Three on
            two cores, not two: the parts cannot be split, so two workers leave a core
            idle while the third part runs alone, and the time-sliced three finish sooner
            (``configs/quick.toml`` on 2 cores: 63.6 s of wall time with 2, 49.2 s with 3,
            the same logs).
        alpha: Significance level of the report.
        training_data: What each arm's learner trains on during the A/B run's experiment
            days (``docs/methods/training_data.md``): ``own_arm``, its own arm's feedback
            (data splitting, the default); ``pooled``, every arm's feedback, as a
            production pipeline that trains on the whole log; ``snapshot``, nothing: the
            models are frozen as they were at the end of the pre-period (features such as
            interaction counts keep counting); ``weighted``, every arm's feedback with loss
            weights that give each learner its own arm's distribution of songs (Si 2023's
            weighted training; an agent that trains must accept the weights). The twin
            worlds, whose difference is the effect of shipping, always train on their own
            traffic, which is all of it.
        twin_replicates: Twin pairs run, each with its own agent seeds on the same world
            (``R``): the first is the twin of the A/B run's pre-period; each other one
            builds the agents again from seed ``r`` (initial weights, pre-training, the
            pre-period, the experiment's updates) and runs both twins. The spread of the
            true effect over the ``R`` pairs is what training randomness alone does to it
            (``docs/methods/training_data.md``). ``1``, the default, runs one pair.
    """

    pre_days: int = 3
    days: int = 14
    control: str = "control"
    treatment: str = "treatment"
    salt: str = "adasim"
    twin: bool = True
    workers: int = 0
    alpha: float = 0.05
    training_data: TrainingDataName = "own_arm"
    twin_replicates: int = 1

    def __post_init__(self) -> None:
        if self.pre_days < 0:
            _fail("pre_days", self.pre_days, "must be >= 0")
        if self.days < 1:
            _fail("days", self.days, "must be >= 1")
        if self.workers < 0:
            _fail("workers", self.workers, "must be >= 1, or 0 for the cores available")
        if self.workers == 0:
            # Resolved here, not where processes start: every reader sees the real count.
            cores = available_cores()
            object.__setattr__(self, "workers", max(N_VARIANTS, cores) if cores > 1 else 1)
        if not 0.0 < self.alpha < 1.0:
            _fail("alpha", self.alpha, "must be in (0, 1)")
        if self.control == self.treatment:
            _fail("treatment", self.treatment, "must differ from control")
        if self.training_data not in get_args(TrainingDataName):
            _fail(
                "training_data", self.training_data, f"must be one of {get_args(TrainingDataName)}"
            )
        if self.twin_replicates < 1:
            _fail("twin_replicates", self.twin_replicates, "must be >= 1")
        if self.twin_replicates > 1 and not self.twin:
            _fail("twin_replicates", self.twin_replicates, "must be 1 when twin is false")

    @property
    def n_days(self) -> int:
        """Whole horizon: pre-period plus experiment."""
        return self.pre_days + self.days


def validate_arms(arms: dict[str, ArmConfig], experiment: ExperimentConfig) -> None:
    """Cross-section rules: the named arms exist, the shares sum to 1, and the weighted
    training-data design has arms whose losses take per-row weights."""
    if not arms:
        return
    for role in ("control", "treatment"):
        name = getattr(experiment, role)
        if name not in arms:
            raise ConfigError(
                f"experiment.{role} == {name!r}, must name an arm; arms are {sorted(arms)}"
            )
    total = sum(a.share for a in arms.values())
    if abs(total - 1.0) > 1e-9:
        raise ConfigError(
            f"arms.*.share sum to {total:g}, must sum to 1 "
            f"({', '.join(f'{k}={a.share:g}' for k, a in arms.items())})"
        )
    if experiment.training_data == "weighted":
        for name, arm in arms.items():
            for key in ("framework", "retrieval_framework"):
                if arm.agent == "two_stage" and getattr(arm, key) == "ssl_mask":
                    raise ConfigError(
                        f"arms.{name}.{key} == 'ssl_mask', must not be with "
                        "experiment.training_data == 'weighted' (the SSL baseline's "
                        "contrastive loss takes no per-row weights)"
                    )


__all__ = [
    "AGENT_KINDS",
    "N_VARIANTS",
    "AgentKind",
    "ArmConfig",
    "ExperimentConfig",
    "FrameworkName",
    "RankingModelName",
    "RetrievalModelName",
    "TaskName",
    "available_cores",
    "is_factory_path",
    "validate_arms",
]
