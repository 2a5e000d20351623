"""One tuning procedure for every arm: ``adasim tune CONFIG`` (issue 14, item 3).

The paper tunes the learning rate and the embedding size of every base model and framework
on the same grids; an A/B test of AdaF²M² against a bare model is fair only if both arms
got the same search. This job does it on the world's **history** log (the logged past
before day 0, :mod:`simulator.engine.history`):

1. the history is simulated into ``OUT/history/`` as ``adasim diagnose`` simulates it
   (:func:`adasim.jobs.diagnose.simulate_log`), or an existing one is reused
   (``history=``: a run's or a diagnose folder's ``history/``);
2. it is split by day: with ``E = ceil(0.2 * world.history_days)`` days
   (:func:`adasim.jobs.diagnose.curve_eval_days`), the last ``E`` days are the test part,
   the ``E`` days before them validate, the earlier days train. **The test part is never
   loaded**: the loader keeps only the events before the test cutoff
   (``SimDataConfig.max_events`` = their number; the count features of a row count only
   strictly earlier rows, so the kept rows are encoded exactly as in the whole log), so no
   test-period row becomes a sample, reaches a model or a score. The test days exist so
   that the latest part of the log stays unseen;
3. every two-stage arm's own ranker (its ``ranking_model``, ``framework``, ``tasks``,
   ``hidden_dims`` and AdaF²M² options) is trained with :func:`agents.training.fit` for
   each ``(lr, embed_dim)`` of the grid on the same most recent ``train_rows`` training
   rows, for at most ``max_epochs`` epochs with early stopping on the validation AUC of
   the arm's first task, and scored by that AUC (of the kept weights);
4. per arm the best grid point is chosen (:func:`select_hyperparameters`) and written to
   ``OUT/tuned.json``, which ``adasim run CONFIG --tuned OUT/tuned.json`` applies.

**The budget** (:class:`TuneBudget`) is the grid, the epochs, the patience, the batch size
and the row caps; it is the same for every arm, or the selection refuses to run. Both
stages of an arm use its ``lr`` and ``embed_dim``; they are chosen on the ranker, whose
validation AUC is the score the serving policy depends on.

**Seeds**: every grid point of every arm starts from the same seed, derived from the
config's (``SeedSequence(config.seed, spawn_key=(crc32("tune"),))``, spawned into the
initial weights, the batch order and the framework's masks): the arms differ only in
what they are, not in their luck.

**Ties**: the highest validation AUC wins; equal AUCs go to the smaller ``embed_dim``, then
to the smaller ``lr`` (the cheaper model, the gentler step). A NaN AUC (a validation part
with one class) never wins; an arm whose every point is NaN is an error.

**Default budget** (measured on ``configs/default.toml``, one torch thread, 2 shared
cores: one epoch of 300,000 rows at batch 256 takes 8 s for the bare DCN-V2 at
``embed_dim`` 8, 13 s at 16, and 13 s and 32 s with AdaF²M²): the paper's five learning
rates, ``embed_dim`` in {8, 16} (32 and 64 not measured: if each doubling costs what 8 to
16 did, the paper's four sizes take several times the half hour the machine has), the most recent 400,000 training rows, at most 3 epochs (patience
1), batch 256 (the arms' online batch, so the chosen rate is the one for the batches the
agent trains on), at most 200,000 validation rows (evenly spaced over the validation
days). The whole job then took 22.5 minutes with dense Adam, the history included, and 19
minutes with row-wise Adam reusing a history (docs/tuning.md).
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from adasim.jobs.tuned_run import FORMAT, TUNED_FILE, skip_reason, tuning_note, write_json
from simulator.config import Config, write_config
from simulator.errors import ConfigError
from simulator.experiment_config import ArmConfig
from simulator.world.population import MINUTES_PER_DAY

if TYPE_CHECKING:  # agents imports torch: at run time only inside the functions
    from agents.datasets.samples import Samples
    from agents.features import FeatureSpec
    from agents.training import FitResult

PAPER_LRS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.02, 0.1)
"""The paper's learning-rate grid (the default)."""

PAPER_EMBED_DIMS: tuple[int, ...] = (8, 16, 32, 64)
"""The paper's embedding-size grid."""

DEFAULT_EMBED_DIMS: tuple[int, ...] = (8, 16)
"""The subset tuned by default: what fits the default world on 2 cores (module docstring)."""

TIE_BREAK = "highest validation AUC; ties: smaller embed_dim, then smaller lr"
"""The selection rule, recorded in ``tuned.json``."""

Scorer = Callable[[str, ArmConfig], float]
"""``score(arm_name, arm_config) -> validation AUC``; the config carries the grid point's
``lr`` and ``embed_dim``."""


@dataclass(frozen=True)
class TuneBudget:
    """What each arm gets: the grid and the training it is scored by (the same for all).

    Attributes:
        lrs: Learning rates of the grid (distinct, > 0).
        embed_dims: Embedding sizes of the grid (distinct, >= 1).
        max_epochs: Upper bound on epochs per grid point.
        patience: Epochs without a validation gain before stopping.
        batch_size: Mini-batch size.
        train_rows: The most recent training rows each grid point trains on (fewer if
            the training part is shorter).
        valid_rows: Validation rows scored, evenly spaced over the validation part (all
            of them if it is shorter).
    """

    lrs: tuple[float, ...] = PAPER_LRS
    embed_dims: tuple[int, ...] = DEFAULT_EMBED_DIMS
    max_epochs: int = 3
    patience: int = 1
    batch_size: int = 256
    train_rows: int = 400_000
    valid_rows: int = 200_000

    def __post_init__(self) -> None:
        if not self.lrs or len(set(self.lrs)) != len(self.lrs):
            raise ConfigError(f"lrs == {self.lrs}, must be distinct learning rates, at least one")
        if any(not (lr > 0 and math.isfinite(lr)) for lr in self.lrs):
            raise ConfigError(f"lrs == {self.lrs}, every learning rate must be > 0")
        if not self.embed_dims or len(set(self.embed_dims)) != len(self.embed_dims):
            raise ConfigError(
                f"embed_dims == {self.embed_dims}, must be distinct sizes, at least one"
            )
        if any(d < 1 for d in self.embed_dims):
            raise ConfigError(f"embed_dims == {self.embed_dims}, every size must be >= 1")
        for name in ("max_epochs", "patience", "batch_size", "train_rows", "valid_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} == {getattr(self, name)}, must be >= 1")

    def grid(self) -> list[tuple[float, int]]:
        """``(lr, embed_dim)`` points in the order they are trained (lr-major)."""
        return [(lr, d) for lr in self.lrs for d in self.embed_dims]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class GridPoint:
    """One grid point of one arm.

    Attributes:
        lr: Learning rate.
        embed_dim: Embedding size.
        valid_auc: Validation AUC of the first task (NaN: undefined).
        n_epochs: Epochs trained (0: not recorded, e.g. a toy scorer).
        best_epoch: Epoch whose weights were kept and scored.
        seconds: Wall time of training (NaN: not recorded).
    """

    lr: float
    embed_dim: int
    valid_auc: float
    n_epochs: int = 0
    best_epoch: int = 0
    seconds: float = float("nan")


@dataclass(frozen=True)
class ArmTuning:
    """The search of one arm and its choice.

    Attributes:
        arm: Arm name (``[arms.NAME]``).
        ranking_model: Its base model.
        framework: Its framework.
        lr: Chosen learning rate.
        embed_dim: Chosen embedding size.
        valid_auc: Validation AUC of the choice.
        points: Every grid point, in the grid's order.
        budget: The budget it was tuned with.
    """

    arm: str
    ranking_model: str
    framework: str
    lr: float
    embed_dim: int
    valid_auc: float
    points: tuple[GridPoint, ...]
    budget: TuneBudget


def check_equal_budgets(budgets: Mapping[str, TuneBudget]) -> None:
    """Refuse budgets that differ between arms (one line: the field, both values, the rule)."""
    names = list(budgets)
    if not names:
        return
    ref = budgets[names[0]]
    for name in names[1:]:
        b = budgets[name]
        for f in fields(TuneBudget):
            mine, theirs = getattr(b, f.name), getattr(ref, f.name)
            if mine != theirs:
                raise ConfigError(
                    f"budget of arms.{name}: {f.name} == {mine!r}, must equal arms."
                    f"{names[0]}'s {theirs!r}: every arm is tuned with the same grid and budget"
                )


def _best(points: Sequence[GridPoint]) -> GridPoint | None:
    finite = [p for p in points if math.isfinite(p.valid_auc)]
    if not finite:
        return None
    return min(finite, key=lambda p: (-p.valid_auc, p.embed_dim, p.lr))


def select_hyperparameters(
    arms: Mapping[str, ArmConfig],
    budgets: Mapping[str, TuneBudget],
    score: Scorer,
    on_point: Callable[[str, GridPoint], None] | None = None,
) -> tuple[ArmTuning, ...]:
    """Score every arm's grid and choose its best point (module docstring: ties).

    Pure: everything random or costly is in ``score``.

    Args:
        arms: Arm name -> its config (the grid replaces ``lr`` and ``embed_dim``).
        budgets: Arm name -> its budget; the same arms as ``arms``, all budgets equal.
        score: ``score(arm_name, arm_config) -> validation AUC`` (NaN: undefined).
        on_point: Called after each grid point (progress).

    Returns:
        One :class:`ArmTuning` per arm, in the order of ``arms``.

    Raises:
        ConfigError: budgets that differ, an arm without a budget, or an arm whose every
            validation AUC is undefined.

    Example:
        >>> budget = TuneBudget(lrs=(0.01, 0.1), embed_dims=(8,))
        >>> toy = lambda name, arm: -abs(arm.lr - 0.01)
        >>> select_hyperparameters({"a": ArmConfig()}, {"a": budget}, toy)[0].lr
        0.01
    """
    if set(budgets) != set(arms):
        raise ConfigError(
            f"budgets name arms {sorted(budgets)}, must name the arms tuned, {sorted(arms)}"
        )
    check_equal_budgets(budgets)
    out: list[ArmTuning] = []
    for name, arm in arms.items():
        budget = budgets[name]
        points: list[GridPoint] = []
        for lr, dim in budget.grid():
            point = GridPoint(lr, dim, float(score(name, replace(arm, lr=lr, embed_dim=dim))))
            points.append(point)
            if on_point is not None:
                on_point(name, point)
        best = _best(points)
        if best is None:
            raise ConfigError(
                f"arms.{name}: every grid point's validation AUC is undefined (the "
                "validation days hold one class of the first task); use a longer history"
            )
        out.append(
            ArmTuning(
                arm=name,
                ranking_model=arm.ranking_model,
                framework=arm.framework,
                lr=best.lr,
                embed_dim=best.embed_dim,
                valid_auc=best.valid_auc,
                points=tuple(points),
                budget=budget,
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------- the data


@dataclass(frozen=True)
class TuneSplit:
    """The history's split by day (module docstring, step 2).

    Attributes:
        history_days: Days of the log (days ``-history_days .. -1``).
        valid_days: Validation days; as many test days follow them.
        valid_from: First validation minute.
        test_from: First test minute: no row from it on is loaded.
    """

    history_days: int
    valid_days: int
    valid_from: int
    test_from: int

    @classmethod
    def of(cls, config: Config) -> TuneSplit:
        """The split of ``config``'s history (``world.history_days >= 3``)."""
        from adasim.jobs.diagnose import curve_eval_days

        days = config.world.history_days
        eval_days = curve_eval_days(days) if days >= 1 else 1
        if days < 2 * eval_days + 1:
            raise ConfigError(
                f"world.history_days == {days}, must be >= 3: tune splits the history "
                "into training, validation and test days"
            )
        test_from = -eval_days * MINUTES_PER_DAY
        return cls(days, eval_days, 2 * test_from, test_from)


@dataclass(frozen=True)
class TuneData:
    """The rows a grid point trains and is scored on (the test part is not among them).

    Attributes:
        spec: Feature layout of the log.
        train: The most recent ``budget.train_rows`` training rows.
        valid: Up to ``budget.valid_rows`` validation rows, evenly spaced.
        split: The split.
        n_train_available: Training rows before the cap.
        n_valid_available: Validation rows before the cap.
        history: The history folder read.
    """

    spec: FeatureSpec
    train: Samples
    valid: Samples
    split: TuneSplit
    n_train_available: int
    n_valid_available: int
    history: Path

    def info(self) -> dict[str, Any]:
        """The data a tuning used, for ``tuned.json``."""
        s = self.split
        return {
            "history": str(self.history),
            "history_days": s.history_days,
            "train_days": s.history_days - 2 * s.valid_days,
            "valid_days": s.valid_days,
            "test_days": s.valid_days,
            "valid_from_minute": s.valid_from,
            "test_from_minute": s.test_from,
            "n_train": len(self.train),
            "n_valid": len(self.valid),
            "n_train_available": self.n_train_available,
            "n_valid_available": self.n_valid_available,
        }


def n_before(history: Path, minute: int) -> int:
    """Events of a log at minutes before ``minute`` (only the ``minute`` column is read)."""
    import pyarrow.parquet as pq

    files = sorted((history / "events").glob("part-*.parquet"))
    if not files:
        raise ConfigError(f"no event files in {history / 'events'}; is {history} a history?")
    return sum(
        int(np.count_nonzero(np.asarray(pq.read_table(f, columns=["minute"])["minute"]) < minute))
        for f in files
    )


def load_tune_data(history: str | Path, config: Config, budget: TuneBudget) -> TuneData:
    """The training and validation rows of a history; its test days are never loaded."""
    from adasim.jobs.diagnose import DiagnoseConfig
    from agents.datasets.sim import load_run

    root = Path(history)
    split = TuneSplit.of(config)
    kept = n_before(root, split.test_from)
    if kept == 0:
        raise ConfigError(f"{root} has no events before the test days (minute {split.test_from})")
    sim_config = DiagnoseConfig().sim_data_config(
        config, cutoffs=(split.valid_from, split.test_from), max_events=kept
    )
    data = load_run(root, sim_config)
    if len(data.test):  # the loader's contract, checked: nothing of the test days is here
        raise ConfigError(f"{len(data.test)} rows of {root} fall in the test days: not tuned")
    if not len(data.train) or not len(data.valid):
        raise ConfigError(
            f"{root} has {len(data.train)} training and {len(data.valid)} validation rows, "
            "needs both: use a longer history (world.history_days) or a larger world"
        )
    n_train, n_valid = len(data.train), len(data.valid)
    train = data.train.take(np.arange(max(0, n_train - budget.train_rows), n_train))
    if n_valid > budget.valid_rows:
        valid = data.valid.take(np.linspace(0, n_valid - 1, budget.valid_rows).astype(np.int64))
    else:
        valid = data.valid
    return TuneData(data.spec, train, valid, split, n_train, n_valid, root)


def tune_seed(seed: int) -> np.random.SeedSequence:
    """The seed of every grid point of every arm, from the config's (module docstring).

    A new sequence each call: ``spawn`` advances the sequence it is called on.
    """
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(b"tune"),))


class HistoryScorer:
    """The real :data:`Scorer`: an arm's ranker trained on a history's rows, valid AUC.

    Args:
        data: The rows (:func:`load_tune_data`).
        budget: Epochs, patience, batch size.
        seed: The config's seed; every call starts from :func:`tune_seed` of it.
        on_epoch: Called as ``fit`` calls it (progress).

    Attributes:
        fits_: ``(arm, lr, embed_dim) -> FitResult`` of every call.
    """

    def __init__(
        self,
        data: TuneData,
        budget: TuneBudget,
        seed: int,
        on_epoch: Callable[[int, float, float], None] | None = None,
    ) -> None:
        self.data = data
        self.budget = budget
        self.seed = seed
        self.on_epoch = on_epoch
        self.fits_: dict[tuple[str, float, int], FitResult] = {}

    def __call__(self, arm_name: str, arm: ArmConfig) -> float:
        from adaf2m2.factory import build_framework
        from adaf2m2.trainable import torch_generator
        from adasim.jobs.offline_run import auc_or_nan
        from agents.framework_options import framework_options
        from agents.models.base import ModelConfig
        from agents.models.registry import build_model
        from agents.training import TrainConfig, fit

        init_ss, order_ss, framework_ss = tune_seed(self.seed).spawn(3)
        base = build_model(
            arm.ranking_model,
            self.data.spec,
            ModelConfig(arm.embed_dim, tuple(arm.tasks), arm.hidden_dims),
            torch_generator(init_ss),
        )
        options = framework_options(arm)
        model = build_framework(arm.framework, base, options, rng=framework_ss)
        b = self.budget
        fitted = fit(
            model,
            self.data.train,
            self.data.valid,
            TrainConfig(
                lr=arm.lr,
                batch_size=b.batch_size,
                max_epochs=b.max_epochs,
                patience=b.patience,
                rowwise_embeddings=arm.rowwise_embeddings,  # as the agent will train
            ),
            torch_generator(order_ss),
            on_epoch=self.on_epoch,
            tasks=tuple(arm.tasks),
            valid_score=auc_or_nan,
        )
        self.fits_[(arm_name, arm.lr, arm.embed_dim)] = fitted
        return float(fitted.valid_score[fitted.best_epoch - 1])


# ---------------------------------------------------------------------- the job


def code_version() -> str | None:
    """The installed adasim's version, if it is installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adasim")
    except PackageNotFoundError:
        return None


@dataclass(frozen=True)
class TuneResult:
    """A tuning: every arm's grid and choice, the budget, the data.

    Attributes:
        config_name: Name of the config.
        seed: Its root seed (the grid points' seed is derived from it).
        budget: The budget every arm got.
        data: The data used (:meth:`TuneData.info`).
        arms: One per tuned arm.
        skipped: Arm name -> why it was not tuned.
        fits: ``(arm, lr, embed_dim) -> (n_epochs, best_epoch, seconds)``.
        seconds: Wall time of the whole job.
    """

    config_name: str
    seed: int
    budget: TuneBudget
    data: dict[str, Any]
    arms: tuple[ArmTuning, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    fits: dict[tuple[str, float, int], tuple[int, int, float]] = field(default_factory=dict)
    seconds: float = float("nan")

    def _point(self, arm: str, p: GridPoint) -> dict[str, Any]:
        n_epochs, best_epoch, seconds = self.fits.get(
            (arm, p.lr, p.embed_dim), (p.n_epochs, p.best_epoch, p.seconds)
        )
        return {
            "lr": p.lr,
            "embed_dim": p.embed_dim,
            "valid_auc": p.valid_auc,
            "n_epochs": n_epochs,
            "best_epoch": best_epoch,
            "seconds": seconds,
        }

    def to_dict(self) -> dict[str, Any]:
        """The content of ``tuned.json`` (before NaN becomes null)."""
        return {
            "format": FORMAT,
            "config": self.config_name,
            "seed": self.seed,
            "adasim_version": code_version(),
            "selection": f"{TIE_BREAK}; validation AUC of the first task, never the test days",
            "budget": self.budget.to_dict(),
            "data": dict(self.data),
            "arms": {
                a.arm: {
                    "ranking_model": a.ranking_model,
                    "framework": a.framework,
                    "lr": a.lr,
                    "embed_dim": a.embed_dim,
                    "valid_auc": a.valid_auc,
                    "budget": a.budget.to_dict(),
                    "data": dict(self.data),
                    "grid": [self._point(a.arm, p) for p in a.points],
                }
                for a in self.arms
            },
            "skipped": dict(self.skipped),
            "seconds": self.seconds,
        }

    def to_dicts(self) -> list[dict[str, Any]]:
        """One record per arm and grid point, with ``chosen``."""
        return [
            {
                "arm": a.arm,
                **self._point(a.arm, p),
                "chosen": (p.lr, p.embed_dim) == (a.lr, a.embed_dim),
            }
            for a in self.arms
            for p in a.points
        ]

    def to_pandas(self):  # type: ignore[no-untyped-def]
        """:meth:`to_dicts` as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def __str__(self) -> str:
        b = self.budget
        d = self.data
        lines = [
            f"tuning of `{self.config_name}` (seed {self.seed}): validation AUC of the first "
            f"task; {d['n_train']:,} training rows (the most recent of "
            f"{_days(d['train_days'])}), {d['n_valid']:,} validation rows "
            f"({_days(d['valid_days'])}), the last {_days(d['test_days'])} unseen; at most {b.max_epochs} epochs, patience "
            f"{b.patience}, batch {b.batch_size}; * marks the choice",
        ]
        for a in self.arms:
            lines += [
                "",
                f"{a.arm} ({a.ranking_model}, framework {a.framework}): lr {a.lr:g}, "
                f"embed_dim {a.embed_dim}, valid AUC {_fmt(a.valid_auc)}",
                "| lr \\ embed_dim | " + " | ".join(str(e) for e in b.embed_dims) + " |",
                "|---|" + "---|" * len(b.embed_dims),
            ]
            by_point = {(p.lr, p.embed_dim): p for p in a.points}
            for lr in b.lrs:
                cells = []
                for dim in b.embed_dims:
                    mark = "*" if (lr, dim) == (a.lr, a.embed_dim) else ""
                    cells.append(_fmt(by_point[(lr, dim)].valid_auc) + mark)
                lines.append(f"| {lr:g} | " + " | ".join(cells) + " |")
        for name, why in self.skipped.items():
            lines += ["", f"{name}: not tuned ({why})"]
        return "\n".join(lines)

    def write(self, out_dir: str | Path) -> Path:
        """Write ``tuned.json`` (strict JSON: NaN as null) into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / TUNED_FILE
        write_json(path, self.to_dict())
        return path


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _fmt(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "-"


@dataclass(frozen=True)
class TunePlan:
    """What :func:`run_tune` will do, checked before any work.

    Attributes:
        config: The config tuned.
        out_dir: The tune folder (``tuned.json``; ``history/`` unless one is reused).
        budget: The budget of every arm.
        arms: The arms tuned, by name.
        skipped: Arm name -> why it is not tuned.
        history: A finished history folder to reuse (``None``: simulate ``out_dir/history``).
    """

    config: Config
    out_dir: Path
    budget: TuneBudget
    arms: dict[str, ArmConfig]
    skipped: dict[str, str]
    history: Path | None = None


def _check_history(history: Path, config: Config) -> None:
    """A reused history must be complete and of ``config``'s world (seed included)."""
    import tomllib

    from simulator.engine.run_folder import first_difference

    done = history / "done.json"
    if not done.is_file():
        raise ConfigError(
            f"--history {history} is not a finished history folder (no done.json); give a "
            "run's or a diagnose folder's history/"
        )
    days = json.loads(done.read_text(encoding="utf-8")).get("days")
    if days != config.world.history_days:
        raise ConfigError(
            f"--history {history} has {days} days, must have world.history_days == "
            f"{config.world.history_days} of the config"
        )
    stored = history.parent / "config.toml"
    if stored.is_file():
        theirs = tomllib.loads(stored.read_text(encoding="utf-8"))
        mine = tomllib.loads(config.to_toml())
        keep = ("seed", "world")
        diff = first_difference(
            {k: v for k, v in theirs.items() if k in keep},
            {k: v for k, v in mine.items() if k in keep},
        )
        if diff is not None:
            raise ConfigError(
                f"--history {history} is the history of another world ({diff}): tune "
                "without --history to simulate this config's"
            )


def plan_tune(
    config: Config,
    out_dir: str | Path,
    budget: TuneBudget,
    arms: Sequence[str] | None = None,
    history: str | Path | None = None,
    fresh: bool = False,
) -> TunePlan:
    """Check everything and prepare the folder; nothing is simulated or trained.

    Args:
        config: The config whose arms are tuned.
        out_dir: The tune folder (an adasim folder of kind ``tune``).
        budget: The budget of every arm.
        arms: The arms to tune (default: every two-stage arm of the config).
        history: Reuse this finished history (``RUN/history``) instead of simulating one.
        fresh: Replace what an earlier tuning of another config left in ``out_dir``.
    """
    from simulator.engine.run_folder import prepare_run_folder

    TuneSplit.of(config)  # the history can be split
    if not config.arms:
        raise ConfigError("config.arms == {}, must name the arms to tune ([arms.NAME])")
    skipped = {n: r for n, a in config.arms.items() if (r := skip_reason(a)) is not None}
    if arms is None:
        names = [n for n in config.arms if n not in skipped]
    else:
        names = list(arms)
        for name in names:
            if name not in config.arms:
                raise ConfigError(
                    f"--arms names {name!r}, which the config has not (its arms: "
                    f"{', '.join(config.arms)})"
                )
            if name in skipped:
                raise ConfigError(f"--arms names {name!r}: {skipped[name]}")
        skipped.update({n: "not in --arms" for n in config.arms if n not in [*names, *skipped]})
    if not names:
        raise ConfigError(
            "the config has no two-stage arm: nothing to tune ("
            + "; ".join(f"{n}: {r}" for n, r in skipped.items())
            + ")"
        )
    reused = None
    if history is not None:
        reused = Path(history)
        _check_history(reused, config)
    out = Path(out_dir)
    prepare_run_folder(out, config, fresh=fresh, kind="tune")
    if fresh:  # what a tuning of another config chose must not outlive it
        (out / TUNED_FILE).unlink(missing_ok=True)
    write_config(config, out / "config.toml")
    return TunePlan(
        config=config,
        out_dir=out,
        budget=budget,
        arms={n: config.arms[n] for n in names},
        skipped=skipped,
        history=reused,
    )


def run_tune(plan: TunePlan, progress: bool = True) -> TuneResult:
    """Simulate (or reuse) the history, score every arm's grid, write ``tuned.json``."""
    from tqdm import tqdm

    from adasim.jobs.diagnose import simulate_log
    from adasim.registry import one_torch_thread
    from simulator.engine.experiment import build_world

    one_torch_thread()  # results do not depend on the machine's load
    start = time.perf_counter()
    config = plan.config
    history = plan.history
    if history is None:
        history = simulate_log(config, plan.out_dir / "history", build_world(config))
    data = load_tune_data(history, config, plan.budget)
    n_points = len(plan.arms) * len(plan.budget.grid())
    bar = tqdm(total=n_points, disable=not progress, unit="point", desc="tune")

    def show(epoch: int, loss: float, auc: float) -> None:
        bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", valid_auc=f"{auc:.4f}")

    scorer = HistoryScorer(data, plan.budget, config.seed, on_epoch=show)

    def score(name: str, arm: ArmConfig) -> float:
        bar.set_description(f"tune: {name} lr {arm.lr:g} embed_dim {arm.embed_dim}")
        return scorer(name, arm)

    def done(name: str, point: GridPoint) -> None:
        bar.update(1)

    budgets = dict.fromkeys(plan.arms, plan.budget)
    arms = select_hyperparameters(plan.arms, budgets, score, on_point=done)
    bar.close()
    result = TuneResult(
        config_name=config.name,
        seed=config.seed,
        budget=plan.budget,
        data=data.info(),
        arms=arms,
        skipped=dict(plan.skipped),
        fits={k: (f.n_epochs, f.best_epoch, f.seconds) for k, f in scorer.fits_.items()},
        seconds=time.perf_counter() - start,
    )
    result.write(plan.out_dir)
    return result


__all__ = [
    "DEFAULT_EMBED_DIMS",
    "FORMAT",
    "PAPER_EMBED_DIMS",
    "PAPER_LRS",
    "TIE_BREAK",
    "TUNED_FILE",
    "ArmTuning",
    "GridPoint",
    "HistoryScorer",
    "Scorer",
    "TuneBudget",
    "TuneData",
    "TunePlan",
    "TuneResult",
    "TuneSplit",
    "check_equal_budgets",
    "code_version",
    "load_tune_data",
    "n_before",
    "plan_tune",
    "run_tune",
    "select_hyperparameters",
    "tune_seed",
    "tuning_note",
]
