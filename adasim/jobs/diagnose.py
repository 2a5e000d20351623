"""Does the simulated world have the paper's premise? ``adasim diagnose`` (issue 13).

The paper's argument rests on four properties of real logs: a long tail (5% of users and
items make most samples), ID features that are the most informative for head users and
items, cold start that is harder, and noisy feedback. This job measures them on the
world's **history** (the logged past before day 0, :mod:`simulator.engine.history`):

1. the world is built and its history simulated into ``DIR/history/``;
2. the log is loaded as training samples with a time split (earliest 60% of minutes train,
   the next 20% validate, the latest 20% test: :func:`agents.datasets.sim.load_run`);
3. a reference model, a bare DCN-V2 on the single task ``finish``, is trained with and
   without the ID fields for several seeds, with early stopping on validation AUC;
4. the statistics below are written to ``DIR/diagnostics.json`` and
   ``DIR/diagnostics.md``.

Definitions (``analysis.world_diagnostics`` has the pure statistics):

* ``top5_user_share``: share of the log's samples made by the top 5% of the users with at
  least one sample; ``top5_item_share``: share made by the top 5% of the catalogue (every
  item released by the log's last day, shown or not); both with
  :func:`simulator.engine.summary.top_share`, as ``adasim simulate`` counts them;
* ``median_samples_old_user`` / ``median_samples_new_user``: median samples in the log per
  user with at least one sample, for old / new users of ``users.parquet`` (new: registered
  at most ``world.users.new_user_days`` days before day 0): how warm the users are at day 0;
* ``auc_id`` / ``auc_noid``: test AUC of the model with / without the ID fields, overall
  and per cohort (suffix ``_head_items``, ...): head items are the training split's most
  frequent items that make 80% of its samples (:func:`analysis.offline.head_items`), tail
  items the rest; warm users have at least ``warm_min_samples`` (default 10) *training*
  samples, cold users fewer; new / old users as the loader flags a sample (the event
  happened fewer than ``new_user_days`` days after the user registered, or later);
* "without the ID fields": the ``user_id`` and ``item_id`` columns are mapped to the one
  code 0 in every split, so each shares a single embedding row (a constant the network
  absorbs as a bias) and the model sees no identity; the spec, the other fields
  (``artist_id`` counts as an item feature) and the initial weights are unchanged, so the
  two models of a seed differ only in what the IDs tell them;
* ``id_gain_head`` / ``id_gain_tail``: ``auc_id - auc_noid`` on head / tail items (per
  seed, then averaged); ``cold_gap``: ``auc_id`` on old users minus on new users;
* ``bayes_auc``: AUC of the logged ``true_finish_prob`` on the test rows (the ceiling: the
  world's own probability given the noise-episode state); ``meta_bayes_auc``: AUC of
  ``sigmoid(finish_slope * meta_affinity + finish_bias)`` (:meth:`World.meta_affinity`,
  the affinity predictable from meta features and artist) on the test rows;
* ``noise_skip_share``: share of the log's rows with ``true_noise_skip``;
  ``noise_episode_mean_length``: mean length of the runs of consecutive noisy rows within a
  session (ordered by ``session_id`` and ``step``).

The reference model is the default experiment's ranker size (``embed_dim`` 8, hidden
layers 64 and 32) with a large batch (4096, learning rate 0.004) and patience 1: the
history of the default world has about three million rows, and on one core an epoch of
``embed_dim`` 16 costs three times one of 8 (measured: 72 s against 24 s on 2.6 million
training rows). So measured, ``adasim diagnose configs/default.toml --seeds 3`` takes
10 to 12 minutes on one core (the history about a minute, each of the six models 3 to 6
epochs), 29 minutes with ``--curve 7,14,28,56`` (docs/results/world.md); no cap on
training rows is needed. Its seeds are derived as ``adasim offline``
derives them, so the ID model of seed ``s`` is the run ``adasim offline --data
sim:DIR/history --models dcnv2`` makes with the same training options.

A **curve** (``curve=(7, 14, 28, 56)``) asks whether the history is long enough: one
longer history is simulated (in ``DIR/curve/history/``: the longest window plus ``E``
validation and ``E`` test days, ``E = ceil(0.2 * world.history_days)``, so 68 days for the
default), and the ID model is trained on the last 7, 14, 28, 56 days before the validation
days, each window loaded as if the log began there (counts included), and tested on the
same last ``E`` days. Only the amount of history differs between the points, not the
world's run or the test rows (separate runs per length would measure the variation
between runs instead: a first version did, and its curve moved by 0.04 both ways). The
issue asks that more history change ``auc_id`` by less than 0.005; ``bayes_auc -
auc_id`` is reported beside it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from analysis.world_diagnostics import (
    COHORTS,
    cohort_auc,
    cohort_masks,
    median_samples,
    noise_episode_lengths,
)
from simulator.config import Config, write_config
from simulator.engine.summary import top_share
from simulator.errors import ConfigError
from simulator.world.population import MINUTES_PER_DAY
from simulator.world.world import World

if TYPE_CHECKING:  # agents imports torch: at run time only inside the functions
    from agents.datasets.samples import OfflineData, Samples
    from agents.datasets.sim import SimDataConfig

REFERENCE_MODEL = "dcnv2"
"""The reference model: the paper's ranking model, trained bare on ``finish``."""

VARIANTS: tuple[str, ...] = ("id", "noid")
"""The two reference models: with the ID fields, and with them mapped to one code."""

ID_FIELDS: tuple[str, ...] = ("user_id", "item_id")
"""The fields the ``noid`` model does not see (``artist_id`` stays: an item feature)."""

_LOG_COLUMNS = (
    "minute",
    "user_id",
    "item_id",
    "session_id",
    "step",
    "finish",
    "true_finish_prob",
    "true_noise_skip",
)


@dataclass(frozen=True)
class DiagnoseConfig:
    """Options of :func:`run_diagnose`.

    Attributes:
        seeds: Seeds ``0 .. seeds - 1`` of the reference models.
        curve: ``world.history_days`` values of the curve (empty: no curve).
        embed_dim: Embedding size of the reference model.
        hidden_dims: Its deep layers.
        lr: Adam learning rate.
        batch_size: Mini-batch size.
        max_epochs: Upper bound on epochs (early stopping on validation AUC first).
        patience: Epochs without a validation gain before stopping.
        warm_min_samples: Training samples that make a user warm.
        head_share: Share of the training samples the head items make.
        count_fields: Give the models the count fields (impressions, likes and comments
            of the user and of the item so far, log2 buckets), as the agents' rankers
            have them; ``False`` measures what the IDs carry when no count can stand in
            for them.
    """

    seeds: int = 3
    curve: tuple[int, ...] = ()
    embed_dim: int = 8
    hidden_dims: tuple[int, ...] = (64, 32)
    lr: float = 4e-3
    batch_size: int = 4096
    max_epochs: int = 10
    patience: int = 1
    warm_min_samples: int = 10
    head_share: float = 0.8
    count_fields: bool = True

    def sim_data_config(self, config: Config, **window: Any) -> SimDataConfig:
        """The loader's options for a log of ``config`` (``window``: its time window)."""
        from agents.datasets.sim import SimDataConfig

        return SimDataConfig(
            split="time",
            new_user_days=config.world.users.new_user_days,
            n_count_buckets=SimDataConfig.n_count_buckets if self.count_fields else 0,
            **window,
        )

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ConfigError(f"seeds == {self.seeds}, must be >= 1")
        if len(set(self.curve)) != len(self.curve) or any(d < 1 for d in self.curve):
            raise ConfigError(f"curve == {self.curve}, must be distinct day counts >= 1")
        if self.warm_min_samples < 1:
            raise ConfigError(f"warm_min_samples == {self.warm_min_samples}, must be >= 1")
        if not 0.0 < self.head_share <= 1.0:
            raise ConfigError(f"head_share == {self.head_share}, must be in (0, 1]")
        # The model and trainer options are checked by their own configs when built.


@dataclass(frozen=True)
class ReferenceRun:
    """One reference model on one seed.

    Attributes:
        variant: ``"id"`` or ``"noid"``.
        seed: Seed of the initial weights and the batch order.
        auc: Cohort name (:data:`analysis.world_diagnostics.COHORTS`) -> test AUC.
        n_epochs: Epochs trained.
        best_epoch: Epoch whose weights were kept.
        train_seconds: Wall time of training.
    """

    variant: str
    seed: int
    auc: dict[str, float]
    n_epochs: int
    best_epoch: int
    train_seconds: float


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")


@dataclass(frozen=True)
class LogDiagnostics:
    """The diagnostics of one history log (module docstring: the definitions).

    Attributes:
        history_days: Days of the log.
        n_samples: Rows of the log; ``n_train``, ``n_valid``, ``n_test`` its time split.
        n_active_users: Users with at least one sample.
        n_catalogue: Items released by the log's last day.
        top5_user_share: Sample share of the top 5% of active users.
        top5_item_share: Sample share of the top 5% of the catalogue.
        median_samples_old_user: Median samples per active old user.
        median_samples_new_user: Median samples per active new user.
        noise_skip_share: Share of rows that were noisy skips.
        noise_episode_mean_length: Mean length of a run of noisy skips in a session.
        n_noise_episodes: Number of such runs.
        bayes_auc: Test AUC of the logged true finish probabilities, per cohort.
        meta_bayes_auc: Test AUC of the meta-predictable finish probability, per cohort.
        cohort_sizes: Test samples per cohort.
        runs: Every reference model (both variants, every seed).
    """

    history_days: int
    n_samples: int
    n_train: int
    n_valid: int
    n_test: int
    n_active_users: int
    n_catalogue: int
    top5_user_share: float
    top5_item_share: float
    median_samples_old_user: float
    median_samples_new_user: float
    noise_skip_share: float
    noise_episode_mean_length: float
    n_noise_episodes: int
    bayes_auc: dict[str, float]
    meta_bayes_auc: dict[str, float]
    cohort_sizes: dict[str, int]
    runs: tuple[ReferenceRun, ...]

    def per_seed(self, variant: str, cohort: str = "all") -> list[float]:
        """Test AUC of ``variant`` on ``cohort``, one value per seed."""
        return [r.auc[cohort] for r in self.runs if r.variant == variant]

    def auc(self, variant: str, cohort: str = "all") -> float:
        """Mean test AUC over seeds."""
        return _mean_sd(self.per_seed(variant, cohort))[0]

    def id_gain_per_seed(self, cohort: str) -> list[float]:
        """``auc_id - auc_noid`` on ``cohort`` per seed (the seed's two models pair up)."""
        return [
            a - b
            for a, b in zip(self.per_seed("id", cohort), self.per_seed("noid", cohort), strict=True)
        ]

    def cold_gap_per_seed(self) -> list[float]:
        """``auc_id`` on old users minus on new users, per seed."""
        return [
            a - b
            for a, b in zip(
                self.per_seed("id", "old_users"), self.per_seed("id", "new_users"), strict=True
            )
        ]

    def derived(self) -> dict[str, list[float]]:
        """Per-seed values of every AUC key and of the gains and gaps."""
        out: dict[str, list[float]] = {}
        for variant in VARIANTS:
            for cohort in COHORTS:
                key = f"auc_{variant}" if cohort == "all" else f"auc_{variant}_{cohort}"
                out[key] = self.per_seed(variant, cohort)
        out["id_gain"] = self.id_gain_per_seed("all")
        out["id_gain_head"] = self.id_gain_per_seed("head_items")
        out["id_gain_tail"] = self.id_gain_per_seed("tail_items")
        out["id_gain_warm"] = self.id_gain_per_seed("warm_users")
        out["id_gain_cold"] = self.id_gain_per_seed("cold_users")
        out["cold_gap"] = self.cold_gap_per_seed()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Flat keys with the means over seeds, then ``sd`` and ``per_seed`` by key."""
        derived = self.derived()
        means = {k: _mean_sd(v)[0] for k, v in derived.items()}
        out: dict[str, Any] = {
            "history_days": self.history_days,
            "n_samples": self.n_samples,
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "n_test": self.n_test,
            "n_active_users": self.n_active_users,
            "n_catalogue": self.n_catalogue,
            "top5_user_share": self.top5_user_share,
            "top5_item_share": self.top5_item_share,
            "median_samples_old_user": self.median_samples_old_user,
            "median_samples_new_user": self.median_samples_new_user,
            **means,
            "bayes_auc": self.bayes_auc["all"],
            "meta_bayes_auc": self.meta_bayes_auc["all"],
            "bayes_gap": self.bayes_auc["all"] - means["auc_id"],
            "noise_skip_share": self.noise_skip_share,
            "noise_episode_mean_length": self.noise_episode_mean_length,
            "n_noise_episodes": self.n_noise_episodes,
            "bayes_auc_cohorts": dict(self.bayes_auc),
            "meta_bayes_auc_cohorts": dict(self.meta_bayes_auc),
            "cohort_sizes": dict(self.cohort_sizes),
            "sd": {k: _mean_sd(v)[1] for k, v in derived.items()},
            "per_seed": derived,
            "runs": [asdict(r) for r in self.runs],
        }
        return out


@dataclass(frozen=True)
class CurvePoint:
    """The ID model trained on one window of the curve's log (module docstring: curve).

    Attributes:
        train_days: Days of training data before the validation days.
        n_train: Training rows; ``n_valid``, ``n_test`` the fixed validation and test rows.
        runs: The ID model on every seed.
        bayes_auc: Test AUC of the true finish probabilities (the same rows for every
            window, so the same value).
    """

    train_days: int
    n_train: int
    n_valid: int
    n_test: int
    runs: tuple[ReferenceRun, ...]
    bayes_auc: float

    def auc_id(self) -> tuple[float, float]:
        """Mean and sd over seeds of the ID model's test AUC."""
        return _mean_sd([r.auc["all"] for r in self.runs])


@dataclass(frozen=True)
class DiagnoseResult:
    """The diagnostics of a config's history, and of its curve over history lengths.

    Attributes:
        config_name: Name of the config.
        seed: Root seed of the world (``config.seed``).
        seeds: Seeds of the reference models.
        options: The :class:`DiagnoseConfig` used.
        diagnostics: Those of the config's own ``world.history_days``.
        curve: One per training window of the curve, in the order given.
        curve_history_days: Days of the curve's log (0: no curve).
        curve_eval_days: Its validation days, and as many test days after them.
        out_dir: Where the files were written (``None``: not written).
    """

    config_name: str
    seed: int
    seeds: tuple[int, ...]
    options: DiagnoseConfig
    diagnostics: LogDiagnostics
    curve: tuple[CurvePoint, ...] = ()
    curve_history_days: int = 0
    curve_eval_days: int = 0
    out_dir: Path | None = field(default=None, compare=False)

    def curve_rows(self) -> list[dict[str, float]]:
        """Per window: ``auc_id`` (mean, sd), ``bayes_auc``, their gap, the change."""
        rows: list[dict[str, float]] = []
        for point in self.curve:
            mean, sd = point.auc_id()
            rows.append(
                {
                    "train_days": point.train_days,
                    "n_train": point.n_train,
                    "auc_id": mean,
                    "auc_id_sd": sd,
                    "bayes_auc": point.bayes_auc,
                    "bayes_gap": point.bayes_auc - mean,
                    "auc_id_change": mean - rows[-1]["auc_id"] if rows else float("nan"),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the diagnostics' flat keys, the run's identity, the curve."""
        out: dict[str, Any] = {
            "config": self.config_name,
            "seed": self.seed,
            "seeds": list(self.seeds),
            "reference_model": REFERENCE_MODEL,
            "options": asdict(self.options),
            **self.diagnostics.to_dict(),
        }
        if self.curve:
            out["curve"] = self.curve_rows()
            out["curve_log"] = {
                "history_days": self.curve_history_days,
                "valid_days": self.curve_eval_days,
                "test_days": self.curve_eval_days,
                "n_valid": self.curve[0].n_valid,
                "n_test": self.curve[0].n_test,
            }
            out["curve_runs"] = [
                {"train_days": p.train_days, **asdict(r)} for p in self.curve for r in p.runs
            ]
        return out

    def to_pandas(self):  # type: ignore[no-untyped-def]
        """The headline metrics as a ``pandas.DataFrame`` (``metric``, ``value``, ``sd``)."""
        import pandas as pd

        return pd.DataFrame(self._table_rows(), columns=["metric", "value", "sd"])

    def curve_to_pandas(self):  # type: ignore[no-untyped-def]
        """The curve as a ``pandas.DataFrame``, one row per training window."""
        import pandas as pd

        return pd.DataFrame(self.curve_rows())

    def _table_rows(self) -> list[tuple[str, float, float]]:
        d = self.diagnostics
        derived = d.derived()
        keys = (
            "auc_id",
            "auc_noid",
            "auc_id_head_items",
            "auc_noid_head_items",
            "auc_id_tail_items",
            "auc_noid_tail_items",
            "auc_id_warm_users",
            "auc_noid_warm_users",
            "auc_id_cold_users",
            "auc_noid_cold_users",
            "auc_id_old_users",
            "auc_id_new_users",
            "id_gain_head",
            "id_gain_tail",
            "cold_gap",
        )
        nan = float("nan")
        rows = [
            ("top5_user_share", d.top5_user_share, nan),
            ("top5_item_share", d.top5_item_share, nan),
            ("median_samples_old_user", d.median_samples_old_user, nan),
            ("median_samples_new_user", d.median_samples_new_user, nan),
        ]
        rows += [(k, *_mean_sd(derived[k])) for k in keys]
        rows += [
            ("bayes_auc", d.bayes_auc["all"], nan),
            ("meta_bayes_auc", d.meta_bayes_auc["all"], nan),
            ("noise_skip_share", d.noise_skip_share, nan),
            ("noise_episode_mean_length", d.noise_episode_mean_length, nan),
        ]
        return rows

    def to_markdown(self) -> str:
        """The headline table, the curve table if any, and the definitions in brief."""
        d = self.diagnostics
        o = self.options
        lines = [
            f"World diagnostics of `{self.config_name}` (seed {self.seed}): history of "
            f"{d.history_days} days, {d.n_samples:,} samples (train {d.n_train:,}, valid "
            f"{d.n_valid:,}, test {d.n_test:,}); reference model bare {REFERENCE_MODEL} on "
            f"`finish`{'' if o.count_fields else ' without the count fields'}, seeds "
            f"{list(self.seeds)} (mean and sd over seeds).",
            "",
            "| metric | value | sd |",
            "|---|---|---|",
        ]
        for name, value, sd in self._table_rows():
            lines.append(f"| {name} | {_fmt(value)} | {_fmt(sd)} |")
        if self.curve:
            first = self.curve[0]
            lines += [
                "",
                f"Curve: one log of {self.curve_history_days} history days; the ID model "
                f"trained on the given days before the same {self.curve_eval_days} validation "
                f"days ({first.n_valid:,} rows) and tested on the last {self.curve_eval_days} "
                f"days ({first.n_test:,} rows).",
                "",
                "| training days | training rows | auc_id | sd | change | bayes_auc "
                "| bayes - auc_id |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in self.curve_rows():
                lines.append(
                    f"| {int(r['train_days'])} | {int(r['n_train']):,} | "
                    f"{_fmt(r['auc_id'])} | {_fmt(r['auc_id_sd'])} | "
                    f"{_fmt(r['auc_id_change'], signed=True)} | {_fmt(r['bayes_auc'])} | "
                    f"{_fmt(r['bayes_gap'])} |"
                )
        lines += [
            "",
            f"Cohorts of the test rows (latest 20% of minutes): head items make "
            f"{o.head_share:g} of the training samples; warm users have at least "
            f"{o.warm_min_samples} training samples; new users registered fewer than "
            "new_user_days days before the sample. `noid`: user_id and item_id mapped to "
            "one code. id_gain = auc_id - auc_noid; cold_gap = auc_id(old) - auc_id(new); "
            "bayes_auc: the logged true finish probability; meta_bayes_auc: the part "
            "predictable from meta features and artist.",
        ]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``diagnostics.json`` (NaN as null) and ``diagnostics.md`` into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        js, md = out / "diagnostics.json", out / "diagnostics.md"
        js.write_text(json.dumps(json_ready(self.to_dict()), indent=2) + "\n", encoding="utf-8")
        md.write_text(self.to_markdown(), encoding="utf-8")
        return js, md


def _fmt(x: float, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:+.4f}" if signed else f"{x:.4f}"


def json_ready(x: Any) -> Any:
    """Strict JSON: non-finite floats as null, numpy scalars as Python numbers."""
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_ready(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ---------------------------------------------------------------------- the log


def simulate_log(config: Config, out_dir: Path, world: World) -> Path:
    """The history of ``config`` in ``out_dir`` (kept if a complete one is there).

    The one place that decides which log is diagnosed.
    """
    from simulator.engine.history import simulate_history

    return simulate_history(config, out_dir, world).directory


def long_tail_shares(
    user_ids: NDArray[np.int64], item_ids: NDArray[np.int64], n_catalogue: int
) -> tuple[float, float]:
    """``(top5_user_share, top5_item_share)`` of a log (module docstring: definitions).

    Args:
        user_ids: ``(n,)`` user of each sample.
        item_ids: ``(n,)`` item of each sample, each below ``n_catalogue``.
        n_catalogue: Items of the catalogue (ids ``0 .. n_catalogue - 1``).
    """
    if item_ids.size and int(item_ids.max()) >= n_catalogue:
        raise ConfigError(
            f"the log shows item {int(item_ids.max())}, beyond the catalogue of {n_catalogue} items"
        )
    per_user = np.bincount(user_ids)
    per_item = np.bincount(item_ids, minlength=n_catalogue)
    return top_share(per_user[per_user > 0]), top_share(per_item)


def _read_log(folder: Path, sim_config: SimDataConfig) -> dict[str, NDArray[Any]]:
    """The columns the diagnostics need, the loader's rows in its order (by minute, stable)."""
    from agents.datasets.sim import event_order

    files = sorted((folder / "events").glob("part-*.parquet"))
    table = pa.concat_tables(
        [pq.read_table(f, columns=list(_LOG_COLUMNS)) for f in files],
        promote_options="permissive",
    )
    cols = {c: np.asarray(table.column(c).to_numpy()) for c in _LOG_COLUMNS}
    order = event_order(cols["minute"], sim_config)
    return {c: v[order] for c, v in cols.items()}


def _without_ids(data: OfflineData) -> OfflineData:
    """The data set with ``user_id`` and ``item_id`` mapped to the one code 0."""
    cols = [data.spec.index(name) for name in ID_FIELDS]

    def strip(samples: Samples) -> Samples:
        fields = samples.fields.copy()
        fields[:, cols] = 0
        return replace(samples, fields=fields)

    return replace(data, train=strip(data.train), valid=strip(data.valid), test=strip(data.test))


def load_aligned(
    root: Path, sim_config: SimDataConfig
) -> tuple[OfflineData, dict[str, NDArray[Any]], NDArray[np.int64]]:
    """The samples of a log, its raw columns on the same rows, and the test rows among them.

    The loader never reads the ground truth; the raw columns give it to the diagnostics,
    row for row (checked: a mismatch is an error, not a silently wrong AUC).
    """
    from agents.datasets.sim import load_run, time_split

    data = load_run(root, sim_config)
    log = _read_log(root, sim_config)
    _, _, test_rows = time_split(log["minute"], sim_config)
    if not (
        np.array_equal(log["user_id"][test_rows], data.test.user_ids)
        and np.array_equal(log["item_id"][test_rows], data.test.item_ids)
    ):
        raise ConfigError(
            f"the test rows of {root} do not align with the loader's; "
            "agents.datasets.sim.load_run must order the events by minute (stable)"
        )
    return data, log, test_rows


def labels_and_cohorts(
    data: OfflineData, options: DiagnoseConfig
) -> tuple[NDArray[np.bool_], dict[str, NDArray[np.bool_]]]:
    """The test rows' ``finish`` labels and their cohort masks (module docstring)."""
    masks = cohort_masks(
        data.test.user_ids,
        data.test.item_ids,
        data.test.new_user,
        data.train.user_ids,
        data.train.item_ids,
        head_share=options.head_share,
        warm_min_samples=options.warm_min_samples,
    )
    return data.test.label("finish") >= 0.5, masks


def diagnose_log(
    folder: str | Path,
    config: Config,
    world: World,
    options: DiagnoseConfig,
    progress: bool = False,
) -> LogDiagnostics:
    """The diagnostics of one history folder (module docstring: the steps).

    Args:
        folder: The history (``events/``, ``users.parquet``, ``items.parquet``).
        config: The config that produced it.
        world: Its world (for :meth:`World.meta_affinity`).
        options: Model, seeds and cohort options.
        progress: Show a progress bar over the reference models.
    """
    from simulator.world.behavior import sigmoid

    root = Path(folder)
    data, log, test_rows = load_aligned(root, options.sim_data_config(config))

    users = pq.read_table(root / "users.parquet", columns=["user_id", "cohort"])
    items = pq.read_table(root / "items.parquet", columns=["item_id", "release_day"])
    user_ids = np.asarray(users.column("user_id").to_numpy())
    is_new = np.zeros(int(user_ids.max()) + 1, dtype=bool)
    is_new[user_ids] = np.asarray(users.column("cohort").to_pylist()) == "new"
    last_day = int(np.floor_divide(log["minute"].max(), 1440))
    release = np.asarray(items.column("release_day").to_numpy())
    n_catalogue = int(np.count_nonzero(release <= last_day))
    uid = log["user_id"].astype(np.int64)
    iid = log["item_id"].astype(np.int64)
    top5_user, top5_item = long_tail_shares(uid, iid, n_catalogue)
    old_median, new_median = median_samples(uid, is_new)
    noise = log["true_noise_skip"].astype(bool)
    episodes = noise_episode_lengths(log["session_id"], log["step"], noise)

    y_test, masks = labels_and_cohorts(data, options)
    bayes = cohort_auc(y_test, log["true_finish_prob"][test_rows], masks)
    b = config.world.behavior
    meta_a = world.meta_affinity(data.test.user_ids, data.test.item_ids)
    meta = cohort_auc(y_test, sigmoid(b.finish_slope * meta_a + b.finish_bias), masks)

    variants = {"id": data, "noid": _without_ids(data)}
    runs = train_reference_models(
        variants, y_test, masks, options, f"H={config.world.history_days}", progress
    )
    return LogDiagnostics(
        history_days=config.world.history_days,
        n_samples=int(uid.size),
        n_train=len(data.train),
        n_valid=len(data.valid),
        n_test=len(data.test),
        n_active_users=int(np.count_nonzero(np.bincount(uid))),
        n_catalogue=n_catalogue,
        top5_user_share=top5_user,
        top5_item_share=top5_item,
        median_samples_old_user=old_median,
        median_samples_new_user=new_median,
        noise_skip_share=float(noise.mean()) if noise.size else float("nan"),
        noise_episode_mean_length=float(episodes.mean()) if episodes.size else float("nan"),
        n_noise_episodes=int(episodes.size),
        bayes_auc=bayes,
        meta_bayes_auc=meta,
        cohort_sizes={k: int(m.sum()) for k, m in masks.items()},
        runs=tuple(runs),
    )


def train_reference_models(
    variants: dict[str, OfflineData],
    y_test: NDArray[np.bool_],
    masks: dict[str, NDArray[np.bool_]],
    options: DiagnoseConfig,
    label: str,
    progress: bool = False,
) -> list[ReferenceRun]:
    """Train the reference model on each data variant for every seed; test AUC per cohort.

    The seed derivation is ``adasim offline``'s: the variants of a seed start from the
    same weights and see the same batches, so their AUCs pair up.
    """
    from tqdm import tqdm

    from adaf2m2.trainable import PlainModel, torch_generator
    from adasim.jobs.offline_run import _seed_sequence, auc_or_nan
    from agents.models.base import ModelConfig
    from agents.models.registry import build_model
    from agents.training import TrainConfig, fit, predict

    model_config = ModelConfig(embed_dim=options.embed_dim, hidden_dims=options.hidden_dims)
    train_config = TrainConfig(
        lr=options.lr,
        batch_size=options.batch_size,
        max_epochs=options.max_epochs,
        patience=options.patience,
    )
    runs: list[ReferenceRun] = []
    bar = tqdm(
        total=options.seeds * len(variants),
        disable=not progress,
        unit="model",
        desc=f"diagnose: {label}",
    )
    for seed in range(options.seeds):
        for variant, d in variants.items():
            init_ss, order_ss, _ = _seed_sequence(seed, REFERENCE_MODEL, "none").spawn(3)
            model = PlainModel(
                build_model(REFERENCE_MODEL, d.spec, model_config, torch_generator(init_ss))
            )

            def show(epoch: int, loss: float, auc: float) -> None:
                bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", valid_auc=f"{auc:.4f}")

            bar.set_description(f"diagnose: {label} {variant} seed {seed}")
            start = time.perf_counter()
            fitted = fit(
                model,
                d.train,
                d.valid,
                train_config,
                torch_generator(order_ss),
                on_epoch=show,
                valid_score=auc_or_nan,
            )
            p = predict(model, d.test, ("finish",), train_config.eval_batch_size)[:, 0]
            runs.append(
                ReferenceRun(
                    variant=variant,
                    seed=seed,
                    auc=cohort_auc(y_test, p, masks),
                    n_epochs=fitted.n_epochs,
                    best_epoch=fitted.best_epoch,
                    train_seconds=time.perf_counter() - start,
                )
            )
            bar.update(1)
    bar.close()
    return runs


# ---------------------------------------------------------------------- the job


def curve_eval_days(history_days: int) -> int:
    """Validation days of the curve's log, and as many test days: the diagnostics' split.

    A fifth of the config's own history each (rounded up to whole days), so the curve is
    tested on a period as long as the main diagnostics' test part.
    """
    return max(1, math.ceil(0.2 * history_days))


def curve_log_error(curve: str, days: int, err: ConfigError, source: str) -> ConfigError:
    """The one-line error of a curve whose log of ``days`` history days breaks a rule.

    Args:
        curve: The curve as its caller names it, e.g. ``--curve == '500'``.
        days: The log's ``world.history_days``: the longest window plus the validation and
            test days.
        err: The config's own error for that value.
        source: The suffix the config loader added to ``err`` (``--set``, ``curve``), dropped:
            the value came from the curve, not from an override the user typed.
    """
    reason = str(err).removesuffix(f" (in {source})")
    return ConfigError(
        f"{curve} needs a log of {days} history days (its longest window and the "
        f"validation and test days): {reason}"
    )


def diagnose_curve(
    folder: str | Path,
    config: Config,
    options: DiagnoseConfig,
    eval_days: int,
    progress: bool = False,
) -> tuple[CurvePoint, ...]:
    """The ID model on windows of growing length of one log, tested on the same days.

    The log (``config.world.history_days`` days, ending at minute 0) is split at fixed
    minutes: its last ``eval_days`` days test, the ``eval_days`` before them validate. For
    each ``h`` in ``options.curve`` the model trains on the ``h`` days before the
    validation days, with the earlier events dropped as if the log began there (the
    count features too). Only the amount of history differs between the points: the
    world, its run and the test rows are the same.
    """
    root = Path(folder)
    test_from = -eval_days * MINUTES_PER_DAY
    valid_from = 2 * test_from
    points: list[CurvePoint] = []
    for days in options.curve:
        sim_config = options.sim_data_config(
            config,
            first_minute=valid_from - days * MINUTES_PER_DAY,
            cutoffs=(valid_from, test_from),
        )
        data, log, test_rows = load_aligned(root, sim_config)
        y_test, masks = labels_and_cohorts(data, options)
        runs = train_reference_models(
            {"id": data}, y_test, masks, options, f"curve {days} days", progress
        )
        points.append(
            CurvePoint(
                train_days=days,
                n_train=len(data.train),
                n_valid=len(data.valid),
                n_test=len(data.test),
                runs=tuple(runs),
                bayes_auc=cohort_auc(y_test, log["true_finish_prob"][test_rows], masks)["all"],
            )
        )
    return tuple(points)


@dataclass(frozen=True)
class DiagnosePlan:
    """What :func:`run_diagnose` will do, checked before any work.

    Attributes:
        config: The config diagnosed.
        curve_config: The config of the curve's longer log (``None``: no curve).
        curve_eval_days: Validation days of that log, and as many test days.
        out_dir: The diagnose folder; the curve's log in ``out_dir / "curve"``.
    """

    config: Config
    curve_config: Config | None
    curve_eval_days: int
    out_dir: Path


def plan_diagnose(
    config: Config,
    out_dir: str | Path,
    options: DiagnoseConfig,
    curve_config: Callable[[int], Config] | None = None,
    fresh: bool = False,
) -> DiagnosePlan:
    """Check everything and prepare the folders; nothing is simulated or trained.

    Args:
        config: The config to diagnose; ``world.history_days`` must be >= 1.
        out_dir: The diagnose folder (an adasim folder of kind ``diagnose``).
        options: The options (``options.curve`` the curve's training days).
        curve_config: ``history_days -> Config`` for the curve's log (default: ``config``
            with ``world.history_days`` replaced, validated by the config's own rules); it
            is called with the longest window plus the validation and test days.
        fresh: Replace what an earlier diagnose of another config left in the folders.
    """
    from simulator.engine.run_folder import prepare_run_folder

    if config.world.history_days < 1:
        raise ConfigError(
            f"world.history_days == {config.world.history_days}, must be >= 1: diagnose "
            "reads the history log"
        )

    def default_curve_config(days: int) -> Config:
        return replace(config, world=replace(config.world, history_days=days))

    make = curve_config or default_curve_config
    out = Path(out_dir)
    eval_days = curve_eval_days(config.world.history_days)
    long = make(max(options.curve) + 2 * eval_days) if options.curve else None
    # Folders are checked (and marked) only once every config is known to be valid.
    folders = [(out, config)] + ([(out / "curve", long)] if long is not None else [])
    for path, cfg in folders:
        prepare_run_folder(path, cfg, fresh=fresh, kind="diagnose")
        write_config(cfg, path / "config.toml")
    return DiagnosePlan(config=config, curve_config=long, curve_eval_days=eval_days, out_dir=out)


def run_diagnose(
    plan: DiagnosePlan, options: DiagnoseConfig, progress: bool = True
) -> DiagnoseResult:
    """Simulate the histories, train the reference models, write the diagnostics.

    Args:
        plan: From :func:`plan_diagnose`.
        options: Seeds, curve and model options.
        progress: Show progress bars (stderr).

    Returns:
        The :class:`DiagnoseResult`, written to ``plan.out_dir``.
    """
    from adasim.registry import one_torch_thread
    from simulator.engine.experiment import build_world

    # One thread: results do not depend on the machine's load, and a busy 2-core machine
    # is not oversubscribed.
    one_torch_thread()
    world = build_world(plan.config)
    log = simulate_log(plan.config, plan.out_dir / "history", world)
    main = diagnose_log(log, plan.config, world, options, progress=progress)
    curve: tuple[CurvePoint, ...] = ()
    if plan.curve_config is not None:
        long = plan.curve_config
        long_log = simulate_log(long, plan.out_dir / "curve" / "history", build_world(long))
        curve = diagnose_curve(long_log, long, options, plan.curve_eval_days, progress)
    result = DiagnoseResult(
        config_name=plan.config.name,
        seed=plan.config.seed,
        seeds=tuple(range(options.seeds)),
        options=options,
        diagnostics=main,
        curve=curve,
        curve_history_days=plan.curve_config.world.history_days if plan.curve_config else 0,
        curve_eval_days=plan.curve_eval_days if plan.curve_config else 0,
        out_dir=plan.out_dir,
    )
    result.write(plan.out_dir)
    return result


__all__ = [
    "ID_FIELDS",
    "REFERENCE_MODEL",
    "VARIANTS",
    "CurvePoint",
    "DiagnoseConfig",
    "DiagnosePlan",
    "DiagnoseResult",
    "LogDiagnostics",
    "ReferenceRun",
    "curve_eval_days",
    "curve_log_error",
    "diagnose_curve",
    "diagnose_log",
    "json_ready",
    "labels_and_cohorts",
    "load_aligned",
    "long_tail_shares",
    "plan_diagnose",
    "run_diagnose",
    "simulate_log",
    "train_reference_models",
]
