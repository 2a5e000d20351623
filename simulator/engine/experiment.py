"""The simulated A/B experiment: a pre-period, the experiment, and the twin worlds.

Timeline (days of one simpy clock per run):

* days ``-history_days .. -1``: the **history** (:mod:`simulator.engine.history`), served by the
  world's logging policy and logged to ``history/``. Every arm's agent is pre-trained on it
  (its own model, its own framework, the same log), so at day 0 old users and head items
  are warm and new users and new items are cold, as in a production system;
* days ``0 .. pre_days - 1``: the **pre-period**. Everyone is served by the control arm;
  every arm's agent learns from that feedback (a new model is trained on production logs
  before its test), and the period gives the CUPED covariates. At its end each agent
  makes ``warm_start_epochs`` extra passes over it.
* days ``pre_days .. pre_days + days - 1``: the **experiment**. Users are hashed into arms
  with the configured shares; each arm's agent learns online from its own users only, or
  as ``experiment.training_data`` says (``docs/methods/training_data.md``).
* the **twin** (``experiment.twin``): from the same end-of-pre-period state, the same world
  with the same random numbers is run twice more, once with everyone on control and once
  with everyone on treatment. The difference between the two is the true effect of
  shipping the treatment, which the A/B estimate targets (and may miss: in the A/B test
  each model learns from half the traffic, in the twin from all of it).
* the **twin replicates** (``experiment.twin_replicates = R``): ``R - 1`` more twin pairs on
  the same world, each with its own agent seeds (:func:`agent_seed`) and so its own
  pre-training, pre-period and fork, whose spread of true effects is what training
  randomness alone does to the truth (:class:`RunLayout` ``replicate``).

Every day boundary writes a checkpoint (engine, agents, random streams) and closes that
day's event-log segment, so a killed run resumes from its last complete day and ends with
the same result. The three runs after the fork are independent and run in parallel
processes (``experiment.workers``); each uses one torch thread, so the result does not
depend on the number of workers.

The simulator does not import agents: the composition root passes an agent factory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from simulator.config import Config, write_config
from simulator.engine.arm_processes import AgentFactory, pre_trained_agents, warm_started
from simulator.engine.assignment import FixedArm, HashAssignment
from simulator.engine.checkpoint import (
    checkpoint_intact,
    load_checkpoint,
    load_newest_intact,
    restart_clock,
    save_checkpoint,
    save_snapshot,
)
from simulator.engine.engine import Engine
from simulator.engine.eventlog import EventLog
from simulator.engine.history import simulate_history
from simulator.engine.process_pool import map_in_processes, picklable
from simulator.engine.run_folder import prepare_run_folder
from simulator.engine.threads import one_torch_thread
from simulator.engine.training_weights import ArmShareModel
from simulator.errors import ConfigError, SimulationError
from simulator.experiment_config import ArmConfig, available_cores, is_seed_neutral
from simulator.types import Recommender
from simulator.world.numpy_kernels import warn_if_unpinned
from simulator.world.population import MINUTES_PER_DAY
from simulator.world.world import World

VARIANTS: tuple[str, ...] = ("ab", "twin_control", "twin_treatment")

KeepCheckpoints = Literal["latest", "all"]
"""``latest``: the two newest day checkpoints of each variant while it runs, none once the
run is finished (the treatment's daily serving snapshots stay, for OPE); ``all``: every
day's checkpoint of every variant, kept."""

KEEP_CHECKPOINTS: tuple[str, ...] = ("latest", "all")


@dataclass(frozen=True)
class RunLayout:
    """Where one experiment writes (DESIGN section 6), relative to ``root``.

    ``replicate`` ``r >= 1`` is the layout of twin pair ``r`` (``experiment.twin_replicates``):
    its pre-period and its twins under ``twin/replicate-r/`` (``pre``, ``control``,
    ``treatment``), its checkpoints under ``checkpoints/replicate-r/``; it shares the run's
    history and has no serving snapshots (the A/B run's treatment is replicate 0's).
    """

    root: Path
    replicate: int = 0

    def of_replicate(self, replicate: int) -> RunLayout:
        """The layout of twin pair ``replicate`` of the same run."""
        return RunLayout(self.root, replicate)

    def _part(self, base: Path) -> Path:
        return base if self.replicate == 0 else base / f"replicate-{self.replicate}"

    def events(self, variant: str) -> Path:
        """Directory holding ``events/`` of a variant (the A/B run is the root; a twin
        replicate's pre-period is its ``pre``)."""
        if self.replicate:
            name = "pre" if variant == "ab" else variant.removeprefix("twin_")
            return self.root / "twin" / f"replicate-{self.replicate}" / name
        return self.root if variant == "ab" else self.root / "twin" / variant.removeprefix("twin_")

    def checkpoints(self, variant: str) -> Path:
        return self._part(self.root / "checkpoints") / variant

    def serving(self, day: int) -> Path:
        """The treatment agent as it served on ``day`` (a serving snapshot, for OPE)."""
        return self.root / "checkpoints" / "serving" / f"day-{day:04d}.pkl"

    def history(self) -> Path:
        """The logged past before day 0 (:mod:`simulator.engine.history`), one per run."""
        return self.root / "history"

    def fork(self) -> Path:
        """The end-of-pre-period checkpoint all variants start from."""
        return self._part(self.root / "checkpoints") / "fork.pkl"

    def staging(self, variant: str) -> Path:
        return self._part(self.root / ".staging") / variant

    def done(self, variant: str) -> Path:
        return self.checkpoints(variant) / "done.json"


def build_world(config: Config) -> World:
    """The experiment's world, a pure function of the config (seed included)."""
    world_seed = np.random.SeedSequence(config.seed).spawn(3)[0]
    return World.build(config.world, config.experiment.n_days, world_seed)


def seed_text(arm: ArmConfig) -> str:
    """``repr(arm)`` without the options that are at their seed-neutral values
    (``simulator.experiment_config.is_seed_neutral``)."""
    parts = [
        f"{f.name}={getattr(arm, f.name)!r}"
        for f in fields(arm)
        if not is_seed_neutral(arm, f.name)
    ]
    return f"{type(arm).__qualname__}({', '.join(parts)})"


def agent_seed(config: Config, arm: ArmConfig, replicate: int = 0) -> np.random.SeedSequence:
    """An agent's seed: a function of the root seed and of the arm's config, not its name.

    Two arms with the same config get the same agent, so an A/A experiment's twin runs are
    identical and its true effect is exactly zero. The digest is over the arm's repr
    without the options added after the rule was fixed while they hold the value that
    gives the earlier agent (``SEED_NEUTRAL_VALUES``, ``SEED_NEUTRAL_BY_FRAMEWORK``), so
    that adding an option or moving its default does not re-seed every run whose figures
    are documented. Twin pair ``replicate >= 1`` (``experiment.twin_replicates``) appends
    its number: other agents on the same world, and still one agent per arm config.
    """
    digest = hashlib.blake2b(seed_text(replace(arm, share=1.0)).encode(), digest_size=8).digest()
    key = [config.seed, 1, int.from_bytes(digest, "little")]
    return np.random.SeedSequence([*key, replicate] if replicate else key)


def _engine_seed(config: Config) -> np.random.SeedSequence:
    return np.random.SeedSequence(config.seed).spawn(3)[2]


class _Broadcast:
    """Serves with one agent; every agent observes the feedback.

    The pre-period (control serves, every arm's learner warms up on its feedback) and the
    pooled training-data design (each arm serves its own users, every learner sees all
    arms' feedback). Learners observe in arm order, so the result is reproducible.
    """

    def __init__(self, server: Recommender, learners: tuple[Recommender, ...]) -> None:
        self.server = server
        self.learners = learners

    def recommend(self, requests: Any, rng: np.random.Generator) -> Any:
        return self.server.recommend(requests, rng)

    def observe(self, feedback: Any) -> None:
        for agent in self.learners:
            agent.observe(feedback)


class _Weighted(_Broadcast):
    """Serves with one arm's agent; every agent learns from the feedback, weighted.

    The weighted training-data design (:mod:`simulator.engine.training_weights`): the
    feedback of arm ``arm`` is counted in the shared :class:`ArmShareModel`, then handed to
    every arm's learner with that learner's weights, in arm order, as ``_Broadcast`` does.
    """

    def __init__(
        self,
        server: Recommender,
        learners: tuple[Recommender, ...],
        arm: int,
        shares: ArmShareModel,
    ) -> None:
        super().__init__(server, learners)
        self.arm = arm
        self.shares = shares

    def observe(self, feedback: Any) -> None:
        items = feedback.recommendation.item_ids
        self.shares.add(items, self.arm)
        weights = self.shares.all_weights(items)
        for j, agent in enumerate(self.learners):
            agent.observe(replace(feedback, training_weight=weights[:, j]))


def check_accepts_training_weights(config: Config, agents: dict[str, Recommender]) -> None:
    """The weighted design needs every agent that trains to apply the rows' weights; a
    :class:`ConfigError` naming the first one that does not, before any work."""
    for name, agent in agents.items():
        trains = callable(getattr(agent, "train", None))
        if trains and getattr(agent, "accepts_training_weights", False) is not True:
            raise ConfigError(
                f"experiment.training_data == 'weighted', but arms.{name}.agent "
                f"({type(agent).__name__}) trains without declaring "
                "accepts_training_weights = True (it would ignore the rows' weights)"
            )


class _Trainer:
    """Periodic online updates of one arm's agent; keeps the loss trajectory."""

    def __init__(self, arm: str, agent: Recommender) -> None:
        self.arm = arm
        self.agent = agent
        self.history: list[dict[str, float]] = []

    def __call__(self, engine: Engine, minute: int) -> None:
        train = getattr(self.agent, "train", None)
        if callable(train):
            losses = train()
            self.history.append({"minute": float(minute), **losses})


def _move_segment(staging: Path, events_dir: Path, day: int) -> None:
    events_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted((staging / "events").glob("part-*.parquet")):
        f.replace(events_dir / f"part-d{day:04d}-{f.stem.removeprefix('part-')}.parquet")
    shutil.rmtree(staging, ignore_errors=True)


def _day(path: Path) -> int:
    return int(path.stem.removeprefix("day-"))


def _day_checkpoints(directory: Path, last_day: int | None = None) -> list[Path]:
    """A variant's day checkpoints, oldest first (only those up to ``last_day`` if given)."""
    found = sorted(directory.glob("day-*.pkl"))
    return [p for p in found if last_day is None or _day(p) <= last_day]


def _serving_snapshot(agent: Recommender) -> Any | None:
    """What an agent offers for off-policy replays (``serving_snapshot()``), if anything."""
    snapshot = getattr(agent, "serving_snapshot", None)
    return snapshot() if callable(snapshot) else None


class VariantRunner:
    """Runs one variant day by day from a start state, with checkpoints and log segments."""

    def __init__(
        self,
        config: Config,
        layout: RunLayout,
        variant: str,
        world: World,
        progress: bool = True,
        position: int = 0,
        keep_checkpoints: KeepCheckpoints = "latest",
    ) -> None:
        self.config = config
        self.layout = layout
        self.variant = variant
        self.world = world
        self.progress = progress
        self.position = position
        self.keep_checkpoints = keep_checkpoints
        self.arm_names = tuple(config.arms)
        self.trainers: list[_Trainer] = []
        # The weighted design's E[Z | song], carried in the variant's checkpoints.
        self.arm_shares: ArmShareModel | None = None

    def assignment(self) -> Callable[[Any], Any]:
        exp = self.config.experiment
        if self.variant == "ab":
            shares = [a.share for a in self.config.arms.values()]
            return HashAssignment(exp.salt, shares)
        role = exp.control if self.variant == "twin_control" else exp.treatment
        return FixedArm(self.arm_names.index(role))

    def trains_on(self, day: int) -> bool:
        """Whether the agents' models update on ``day`` (not in the A/B run's experiment
        days of the snapshot design: its models stay as the pre-period left them)."""
        exp = self.config.experiment
        frozen = exp.training_data == "snapshot" and self.variant == "ab"
        return not (frozen and day >= exp.pre_days)

    def policies(
        self, agents: dict[str, Recommender], arm_shares: ArmShareModel | None = None
    ) -> tuple[Recommender, ...]:
        """The engine's arms: each arm's agent serves its users; in the A/B run of the
        pooled design every agent also observes the other arms' feedback, and in that of
        the weighted design it does so with its own arm's weights (``arm_shares``: the
        model of a resumed run's checkpoint; ``None``: a new one)."""
        own = tuple(agents[a] for a in self.arm_names)
        design = self.config.experiment.training_data
        if self.variant == "ab" and design == "pooled":
            return tuple(_Broadcast(agent, own) for agent in own)
        if self.variant == "ab" and design == "weighted":
            if arm_shares is None:
                arm_shares = ArmShareModel([self.config.arms[a].share for a in self.arm_names])
            self.arm_shares = arm_shares
            return tuple(_Weighted(a, own, i, arm_shares) for i, a in enumerate(own))
        return own

    def checkpoint_extra(self, agents: dict[str, Recommender]) -> dict[str, Any]:
        """What a day checkpoint keeps beside the engine: the agents, and the weighted
        design's arm-share model."""
        extra: dict[str, Any] = {"agents": agents}
        if self.arm_shares is not None:
            extra["arm_shares"] = self.arm_shares
        return extra

    def _hooks(self, engine: Engine, agents: dict[str, Recommender], day: int) -> None:
        self.trainers = []
        if not self.trains_on(day):
            return
        for arm, agent in agents.items():
            trainer = _Trainer(arm, agent)
            self.trainers.append(trainer)
            engine.add_hook(self.config.arms[arm].train_every_minutes, trainer)

    def run_days(
        self, engine: Engine, agents: dict[str, Recommender], first: int, last: int
    ) -> None:
        """Run days ``first .. last - 1``, checkpointing after each.

        Only the log segments and loss records of these days are replaced; days outside the
        range (the A/B experiment's, when the pre-period is rerun) stay as they are.
        """
        ckpt_dir = self.layout.checkpoints(self.variant)
        events_dir = self.layout.events(self.variant) / "events"
        _truncate_between(events_dir, first, last)
        self._forget_losses_between(first, last)
        bar = tqdm(
            total=last - first,
            desc=f"{self.variant:>14}",
            unit="day",
            position=self.position,
            disable=not self.progress,
            leave=True,
        )
        for day in range(first, last):
            minute = day * MINUTES_PER_DAY
            staging = self.layout.staging(self.variant) / f"day-{day:04d}"
            shutil.rmtree(staging, ignore_errors=True)
            engine.log = EventLog(staging, self.arm_names, engine.config.chunk_rows)
            restart_clock(engine, minute)
            self._hooks(engine, agents, day)
            for every, trainer in zip(
                (self.config.arms[t.arm].train_every_minutes for t in self.trainers),
                self.trainers,
                strict=True,
            ):
                if minute and minute % every == 0:
                    trainer(engine, minute)  # the update due at the day boundary itself
            engine.run(1)
            engine.log.close()
            engine.log = None
            _move_segment(staging, events_dir, day)
            self._log_losses(day)
            save_checkpoint(
                ckpt_dir / f"day-{day + 1:04d}.pkl", engine, self.checkpoint_extra(agents)
            )
            self.save_serving(agents, day + 1)
            if self.keep_checkpoints == "latest":
                # Two, not one: if the newest is damaged, the run falls back to the other.
                for old in _day_checkpoints(ckpt_dir)[:-2]:
                    old.unlink()
            bar.update(1)
            bar.set_postfix(self._postfix(), refresh=False)
        bar.close()

    def save_serving(self, agents: dict[str, Recommender], day: int) -> None:
        """The A/B treatment agent as it will serve on ``day``, for OPE's replays."""
        exp = self.config.experiment
        if self.variant != "ab" or self.layout.replicate or not exp.pre_days <= day < exp.n_days:
            return
        snapshot = _serving_snapshot(agents[exp.treatment])
        if snapshot is not None:
            save_snapshot(self.layout.serving(day), snapshot, self.world)

    def _forget_losses_between(self, first: int, last: int) -> None:
        """Drop loss records of days about to be (re)run, so a resume leaves none twice."""
        path = self.layout.checkpoints(self.variant) / "training.jsonl"
        if path.is_file():
            keep = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and not first <= json.loads(line)["day"] < last
            ]
            path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")

    def _log_losses(self, day: int) -> None:
        path = self.layout.checkpoints(self.variant) / "training.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            for t in self.trainers:
                if t.history:
                    last = t.history[-1]
                    f.write(json.dumps({"day": day, "arm": t.arm, **last}) + "\n")

    def _postfix(self) -> dict[str, str]:
        out = {}
        for t in self.trainers:
            if t.history:
                out[t.arm] = f"{t.history[-1].get('rank', float('nan')):.4f}"
        return out


def _truncate_between(events_dir: Path, first: int, last: int) -> None:
    """Delete log segments of days ``first .. last - 1`` (a resumed run rewrites them)."""
    for f in events_dir.glob("part-d*.parquet"):
        if first <= int(f.name[len("part-d") : len("part-d") + 4]) < last:
            f.unlink()


def run_pre_period(
    config: Config,
    layout: RunLayout,
    factory: AgentFactory,
    progress: bool = True,
    keep_checkpoints: KeepCheckpoints = "latest",
    arm_workers: int = 1,
) -> None:
    """Days ``0 .. pre_days - 1`` with everyone on control, then the warm start and the fork.

    With ``arm_workers >= 2`` each arm's pre-training on the history and its warm start run
    in processes of their own (:mod:`simulator.engine.arm_processes`), the same result.
    """
    if layout.fork().is_file():
        return
    exp = config.experiment
    world = build_world(config)
    runner = VariantRunner(config, layout, "ab", world, progress, keep_checkpoints=keep_checkpoints)
    # Only pre-period checkpoints can restart it (a kill during the warm start leaves the
    # last one; the A/B days' checkpoints come later and serve the A/B run only).
    latest = load_newest_intact(_day_checkpoints(layout.checkpoints("ab"), exp.pre_days), world)
    if latest is None:
        history = (
            simulate_history(config, layout.history(), world) if config.world.history_days else None
        )
        seeds = {n: agent_seed(config, a, layout.replicate) for n, a in config.arms.items()}
        agents = pre_trained_agents(
            config,
            factory,
            seeds,
            world,
            history,
            build_world,
            layout.staging("pre-train"),
            arm_workers,
        )
        control = agents[exp.control]
        serving = dict(agents)
        serving[exp.control] = _Broadcast(control, tuple(agents.values()))
        engine = Engine(
            world,
            serving,
            assign=FixedArm(runner.arm_names.index(exp.control)),
            config=_quiet(config),
            rng=_engine_seed(config),
        )
        if history is not None:
            engine.retention.satisfaction[:] = history.satisfaction()
        first = 0
    else:
        path, engine, extra = latest
        first = _day(path)
        agents = extra["agents"]
    runner.run_days(engine, agents, first, exp.pre_days)
    agents = warm_started(
        config, agents, world, build_world, layout.staging("warm-start"), arm_workers
    )
    engine.policies = tuple(agents[a] for a in runner.arm_names)
    runner.save_serving(agents, exp.pre_days)
    save_checkpoint(layout.fork(), engine, {"agents": agents})


def _quiet(config: Config) -> Any:
    return replace(config.engine, progress=False)


def _set_aside_damaged_fork(layout: RunLayout) -> None:
    """A fork whose digest does not match is kept as ``fork.pkl.corrupt``, to be redone.

    The pre-period is a pure function of the config, so redoing it (from its newest intact
    checkpoint, or from day 0 when none is left) gives the same fork.
    """
    fork = layout.fork()
    if fork.is_file() and not checkpoint_intact(fork):
        fork.replace(fork.with_suffix(".pkl.corrupt"))
        print(
            f"adasim: checkpoint {fork} is damaged; kept as {fork.name}.corrupt, "
            "redoing the pre-period",
            file=sys.stderr,
        )


def run_variant(
    config: Config,
    layout: RunLayout,
    variant: str,
    progress: bool = True,
    position: int = 0,
    keep_checkpoints: KeepCheckpoints = "latest",
) -> str:
    """Run one variant from the fork (or its own newest intact checkpoint) to the end."""
    if layout.done(variant).is_file():
        return variant
    exp = config.experiment
    world = build_world(config)
    runner = VariantRunner(config, layout, variant, world, progress, position, keep_checkpoints)
    own = [p for p in _day_checkpoints(layout.checkpoints(variant)) if _day(p) > exp.pre_days]
    latest = load_newest_intact(own, world)
    if latest is not None:
        path, engine, extra = latest
        first = _day(path)
    else:
        first = exp.pre_days
        engine, extra = load_checkpoint(layout.fork(), world)
    agents = extra["agents"]
    engine.assign = runner.assignment()
    engine.policies = runner.policies(agents, extra.get("arm_shares"))
    if variant != "ab":
        # The served arm of each twin draws its exploration from the control arm's stream,
        # so the twins share every random number, the policies' too.
        served = int(engine.assign(np.zeros(1, dtype=np.int64))[0])
        streams = list(engine.arm_rngs)
        streams[served] = engine.arm_rngs[runner.arm_names.index(exp.control)]
        engine.arm_rngs = tuple(streams)
    runner.run_days(engine, agents, first, exp.n_days)
    engine.write_tables(layout.events(variant))
    layout.done(variant).write_text(json.dumps({"variant": variant, "days": exp.n_days}))
    return variant


def _worker(args: tuple[Config, RunLayout, str, bool, int, KeepCheckpoints]) -> str:
    one_torch_thread()
    config, layout, variant, progress, position, keep = args
    return run_variant(config, layout, variant, progress, position, keep)


def _pre_period_worker(
    args: tuple[Config, RunLayout, AgentFactory, bool, KeepCheckpoints],
) -> None:
    one_torch_thread()
    config, layout, factory, progress, keep = args
    run_pre_period(config, layout, factory, progress, keep)


def replicate_layouts(layout: RunLayout, config: Config) -> tuple[RunLayout, ...]:
    """The layouts of twin pairs ``1 .. R - 1`` (``experiment.twin_replicates``)."""
    return tuple(layout.of_replicate(r) for r in range(1, config.experiment.twin_replicates))


def run_parts(layout: RunLayout, config: Config) -> tuple[tuple[RunLayout, str], ...]:
    """Every variant of the run, with the layout it writes to: the A/B run, its twins, and
    the twins of every other twin pair."""
    variants = VARIANTS if config.experiment.twin else VARIANTS[:1]
    own = tuple((layout, v) for v in variants)
    return own + tuple((r, v) for r in replicate_layouts(layout, config) for v in VARIANTS[1:])


def run_finished(layout: RunLayout, config: Config) -> bool:
    """Whether every variant of the run (twin replicates included) is done."""
    return all(part.done(v).is_file() for part, v in run_parts(layout, config))


def _drop_resume_state(parts: tuple[tuple[RunLayout, str], ...]) -> None:
    """Once every variant is done: the day checkpoints and the forks serve no resume any more.

    Damaged checkpoints set aside as ``*.corrupt`` stay, for a look at what went wrong.
    """
    for layout, variant in parts:
        for path in layout.checkpoints(variant).glob("day-*.pkl"):
            path.unlink()
    for layout in dict.fromkeys(layout for layout, _ in parts):
        # A twin pair's pre-period ran as its "ab" variant: its day checkpoints go too.
        for path in layout.checkpoints("ab").glob("day-*.pkl"):
            path.unlink()
        layout.fork().unlink(missing_ok=True)


def run_experiment(
    config: Config,
    out_dir: str | Path,
    factory: AgentFactory,
    progress: bool = True,
    fresh: bool = False,
    keep_checkpoints: KeepCheckpoints = "latest",
) -> RunLayout:
    """Run (or resume) the whole experiment into ``out_dir``; returns its layout.

    Args:
        config: The resolved config; needs ``arms`` with the control and treatment arms.
        out_dir: The run folder: new, empty, or one that adasim wrote for the same config
            (which is resumed, or left as it is when finished); see
            :mod:`simulator.engine.run_folder`.
        factory: Builds each arm's agent (see :data:`AgentFactory`).
        progress: Show progress bars (days, learners' losses).
        fresh: Start over: first remove what adasim wrote in ``out_dir``.
        keep_checkpoints: ``latest`` (default) or ``all``; see :data:`KeepCheckpoints`.

    Raises:
        ConfigError: ``out_dir`` cannot be used (see
            :func:`~simulator.engine.run_folder.prepare_run_folder`), before any work.
    """
    if not config.arms:
        raise SimulationError("config has no [arms]; an experiment needs a control and a treatment")
    if keep_checkpoints not in KEEP_CHECKPOINTS:
        raise ConfigError(
            f"keep_checkpoints == {keep_checkpoints!r}, must be one of {KEEP_CHECKPOINTS}"
        )
    if config.experiment.training_data == "weighted":
        # Before any work: agents built only to ask them (the run builds its own).
        world = build_world(config)
        probes = {n: factory(n, a, world, agent_seed(config, a)) for n, a in config.arms.items()}
        check_accepts_training_weights(config, probes)
    layout = RunLayout(prepare_run_folder(out_dir, config, fresh=fresh))
    warn_if_unpinned()
    write_config(config, layout.root / "config.toml")
    one_torch_thread()  # the same result whatever the number of workers
    parts = run_parts(layout, config)
    # The pre-period of each twin pair, unless all of that pair's variants are done.
    pre = [
        part
        for part in (layout, *replicate_layouts(layout, config))
        if not all(p.done(v).is_file() for p, v in parts if p == part)
    ]
    for part in pre:
        _set_aside_damaged_fork(part)  # checked here, where the factory is at hand
    if pre and pre[0] == layout:
        # First and alone: it simulates the history every twin pair learns from. Its arms
        # pre-train side by side, the one part of it that splits without changing a bit.
        arm_workers = min(config.experiment.workers, available_cores())
        run_pre_period(config, layout, factory, progress, keep_checkpoints, arm_workers)
    others = [p for p in pre if p != layout]
    workers = min(config.experiment.workers, len(parts))
    if workers == 1 or len(others) < 2 or not picklable(factory):
        for part in others:
            run_pre_period(config, part, factory, progress, keep_checkpoints)
    else:
        pre_jobs = [(config, p, factory, progress, keep_checkpoints) for p in others]
        map_in_processes(_pre_period_worker, pre_jobs, min(workers, len(others)))
    if workers == 1:
        for i, (part, v) in enumerate(parts):
            run_variant(config, part, v, progress, i, keep_checkpoints)
    else:
        # Workers die with the parent and are terminated if the run is interrupted, so a
        # resumed run never races an orphan writing the same variant.
        jobs = [
            (config, part, v, progress, i, keep_checkpoints) for i, (part, v) in enumerate(parts)
        ]
        map_in_processes(_worker, jobs, workers)
    if keep_checkpoints == "latest":
        _drop_resume_state(parts)
    shutil.rmtree(layout.root / ".staging", ignore_errors=True)
    return layout


__all__ = [
    "KEEP_CHECKPOINTS",
    "VARIANTS",
    "AgentFactory",
    "KeepCheckpoints",
    "RunLayout",
    "build_world",
    "check_accepts_training_weights",
    "replicate_layouts",
    "run_experiment",
    "run_finished",
    "run_parts",
    "run_variant",
]
