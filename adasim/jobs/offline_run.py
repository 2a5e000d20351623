"""Offline comparison of base models (and training frameworks) over seeds: ``adasim offline``.

For every (framework, model, seed) the model is built, trained with
:func:`agents.training.fit` on the data set's training split with early stopping on the
validation split, and scored on the test split with :func:`analysis.offline.evaluate`
(AUC, UAUC, log loss, calibration), overall and for new/old users and head/tail items.
Rows aggregate the seeds (mean and standard deviation). Two baselines come along unless
switched off: ``popularity`` (the item's smoothed positive rate in the training split) and
``logistic`` (logistic regression on the same fields).

RelaImpr (Yan et al. 2014) is reported against a reference: for a framework row, the same
base model trained bare (``framework == "none"``); for a bare model, the logistic
regression.

Seeding: run ``(seed, model, framework)`` draws its initial weights, its batch order and its
framework randomness from ``SeedSequence(seed, spawn_key=(crc32(model),
crc32(framework)))``, so a result does not depend on which other models ran with it.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from adaf2m2.trainable import PlainModel, TrainableModel, torch_generator
from agents.datasets.samples import OfflineData
from agents.models.base import BaseModel, ModelConfig
from agents.models.registry import build_model
from agents.training import TrainConfig, fit, predict
from analysis.errors import InsufficientDataError
from analysis.offline import OfflineMetrics, evaluate_cohorts, head_items, rela_impr, roc_auc
from simulator.errors import ConfigError

POPULARITY = "popularity"
LOGISTIC = "logistic"
COHORTS: tuple[str, ...] = ("all", "new_users", "old_users", "head_items", "tail_items")


def auc_or_nan(labels: np.ndarray, probs: np.ndarray) -> float:
    """Validation AUC for early stopping (soft labels thresholded at 1/2); NaN if undefined."""
    try:
        return roc_auc((labels >= 0.5).astype(np.float64), probs)
    except InsufficientDataError:
        return float("nan")


@dataclass(frozen=True)
class RunRecord:
    """One trained model on one seed.

    Attributes:
        model: Registered model name (or ``"popularity"``).
        framework: ``"none"`` for the bare model, else the framework name.
        seed: Root seed of the run.
        metrics: Cohort name -> test metrics (keys of :data:`COHORTS`).
        n_epochs: Epochs trained (0 for the popularity baseline).
        best_epoch: Epoch whose weights were kept.
        train_seconds: Wall time of training.
    """

    model: str
    framework: str
    seed: int
    metrics: dict[str, OfflineMetrics]
    n_epochs: int
    best_epoch: int
    train_seconds: float


@dataclass(frozen=True)
class OfflineRow:
    """One (model, framework) aggregated over seeds.

    Attributes:
        model: Model name.
        framework: Framework name (``"none"``: bare model).
        n_seeds: Seeds aggregated.
        auc_mean: Mean test AUC; ``auc_std`` its sample standard deviation (ddof 1).
        uauc_mean: Mean test UAUC; ``uauc_std`` likewise.
        log_loss_mean: Mean test log loss; ``log_loss_std`` likewise.
        ece_mean: Mean expected calibration error.
        n_users_skipped: Users left out of UAUC (single label class), first seed.
        rela_impr: RelaImpr of ``auc_mean`` over the reference row's ``auc_mean`` (NaN if
            there is no reference).
        reference: The reference row, e.g. ``"logistic/none"``.
        cohort_auc: Cohort -> mean AUC over seeds.
        train_seconds: Mean training wall time.
    """

    model: str
    framework: str
    n_seeds: int
    auc_mean: float
    auc_std: float
    uauc_mean: float
    uauc_std: float
    log_loss_mean: float
    log_loss_std: float
    ece_mean: float
    n_users_skipped: int
    rela_impr: float
    reference: str
    cohort_auc: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0


def _fmt(x: float, digits: int = 4) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


@dataclass(frozen=True)
class OfflineResult:
    """The result table of :func:`run_offline`.

    Attributes:
        data: Name of the data set.
        split: How it was split.
        n_train: Training samples; ``n_valid``, ``n_test`` likewise.
        seeds: Root seeds.
        rows: One aggregated row per (model, framework).
        runs: Every (model, framework, seed) run.
    """

    data: str
    split: str
    n_train: int
    n_valid: int
    n_test: int
    seeds: tuple[int, ...]
    rows: tuple[OfflineRow, ...]
    runs: tuple[RunRecord, ...]

    def to_dicts(self) -> list[dict[str, object]]:
        """One flat dict per row."""
        out = []
        for r in self.rows:
            d = asdict(r)
            cohort = d.pop("cohort_auc")
            d.update({f"auc_{k}": v for k, v in cohort.items()})
            out.append(d)
        return out

    def to_pandas(self):  # type: ignore[no-untyped-def]
        """The rows as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def to_markdown(self) -> str:
        """A markdown table: AUC, UAUC, log loss (mean ± sd), RelaImpr, cohort AUCs."""
        head = (
            "| model | framework | AUC | UAUC | log loss | RelaImpr | vs | "
            "AUC new users | AUC old users | AUC head items | AUC tail items | ECE |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        lines = []
        for r in self.rows:
            ri = "-" if math.isnan(r.rela_impr) else f"{100 * r.rela_impr:+.2f}%"
            lines.append(
                f"| {r.model} | {r.framework} | {_fmt(r.auc_mean)} ± {_fmt(r.auc_std)} | "
                f"{_fmt(r.uauc_mean)} ± {_fmt(r.uauc_std)} | "
                f"{_fmt(r.log_loss_mean)} ± {_fmt(r.log_loss_std)} | {ri} | "
                f"{r.reference or '-'} | "
                + " | ".join(_fmt(r.cohort_auc.get(c, float("nan"))) for c in COHORTS[1:])
                + f" | {_fmt(r.ece_mean)} |"
            )
        meta = (
            f"Data: `{self.data}` ({self.split}; train {self.n_train}, valid {self.n_valid}, "
            f"test {self.n_test}); seeds {list(self.seeds)}; mean ± sd over seeds.\n\n"
        )
        skipped = self.rows[0].n_users_skipped if self.rows else 0
        used = self.runs[0].metrics["all"].n_users_uauc if self.runs else 0
        note = (
            f"\nUAUC averages {used} test users; {skipped} users with a single label class "
            "are left out. RelaImpr = (AUC - 0.5) / (AUC_ref - 0.5) - 1 against `vs`. "
            "Cohort columns and ECE are means over seeds.\n"
        )
        return meta + head + "\n".join(lines) + "\n" + note

    def to_json(self) -> str:
        """Every row and run as JSON (NaN written as null)."""

        def clean(x: object) -> object:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [clean(v) for v in x]
            return x

        payload = {
            "data": self.data,
            "split": self.split,
            "n_train": self.n_train,
            "n_valid": self.n_valid,
            "n_test": self.n_test,
            "seeds": list(self.seeds),
            "rows": [clean(asdict(r)) for r in self.rows],
            "runs": [clean(asdict(r)) for r in self.runs],
        }
        return json.dumps(payload, indent=2)

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``offline.md`` and ``offline.json`` into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        md, js = out / "offline.md", out / "offline.json"
        md.write_text(self.to_markdown())
        js.write_text(self.to_json() + "\n")
        return md, js

    def __str__(self) -> str:
        return self.to_markdown()

    def row(self, model: str, framework: str = "none") -> OfflineRow:
        """The row of ``model`` under ``framework``."""
        for r in self.rows:
            if r.model == model and r.framework == framework:
                return r
        raise KeyError(f"no row for model {model!r} with framework {framework!r}")


def popularity_scores(data: OfflineData, prior_strength: float = 10.0) -> np.ndarray:
    """Test-set scores of the popularity baseline.

    Score of item ``i``: ``(pos_i + m * p0) / (n_i + m)``, its positive rate in the training
    split shrunk towards the global rate ``p0`` with ``m = prior_strength`` pseudo-samples
    (items unseen in training score ``p0``).
    """
    y = data.train.label("finish").astype(np.float64)
    items = data.train.item_ids
    size = int(max(items.max(initial=0), data.test.item_ids.max(initial=0))) + 1
    pos = np.bincount(items, weights=y, minlength=size)
    n = np.bincount(items, minlength=size).astype(np.float64)
    p0 = float(y.mean()) if y.size else 0.5
    rate = (pos + prior_strength * p0) / (n + prior_strength)
    return rate[data.test.item_ids]


def _cohorts(data: OfflineData) -> dict[str, np.ndarray]:
    test = data.test
    head = np.isin(test.item_ids, head_items(data.train.item_ids, 0.8))
    return {
        "new_users": test.new_user,
        "old_users": ~test.new_user,
        "head_items": head,
        "tail_items": ~head,
    }


def _seed_sequence(seed: int, model: str, framework: str) -> np.random.SeedSequence:
    key = (zlib.crc32(model.encode()), zlib.crc32(framework.encode()))
    return np.random.SeedSequence(seed, spawn_key=key)


def _wrap(framework: str, base: BaseModel, rng: np.random.SeedSequence) -> TrainableModel:
    # Imported here so that bare-model runs need nothing from the framework package.
    from adaf2m2.factory import build_framework

    return build_framework(framework, base, None, rng)


def check_names(
    models: Sequence[str],
    frameworks: Sequence[str],
    names: tuple[str, str] = ("models", "frameworks"),
) -> None:
    """Every model and framework name is known, before anything is trained.

    A misspelt framework used to surface only when its first run was built, after the
    baselines and every bare model had trained. ``names`` are what messages call the two
    lists (the command line's ``--models`` and ``--framework``).
    """
    from adaf2m2.config import FRAMEWORK_MODES
    from adaf2m2.errors import FrameworkConfigError
    from adaf2m2.factory import framework_variant
    from agents.models.registry import model_names

    for what, given, known in zip(
        names, (models, frameworks), (model_names(), FRAMEWORK_MODES), strict=True
    ):
        if not given:
            raise ConfigError(f"{what} is empty, must name at least one of {known}")
    for name in models:
        if name not in model_names():
            raise ConfigError(f"{names[0]} contains {name!r}, must be among {model_names()}")
    for name in frameworks:
        if name.split(":")[0] not in FRAMEWORK_MODES:
            raise ConfigError(f"{names[1]} contains {name!r}, must be among {FRAMEWORK_MODES}")
        try:
            framework_variant(name)
        except FrameworkConfigError as exc:
            rule = str(exc).split(", ", 1)[1]
            raise ConfigError(f"{names[1]} contains {name!r}, {rule}") from None


def run_offline(
    data: OfflineData,
    models: Sequence[str],
    frameworks: Sequence[str] = ("none",),
    seeds: int | Sequence[int] = 3,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    baselines: bool = True,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> OfflineResult:
    """Train and evaluate every (framework, model, seed); aggregate over seeds.

    Args:
        data: The data set (see ``agents.datasets``).
        models: Registered model names, e.g. ``("fm", "dcnv2")``.
        frameworks: ``"none"`` is the bare model; other names go to
            ``adaf2m2.factory.build_framework(name, base_model, config, rng)``, variants
            included (``"adaf2m2:strict"``: ``adaf2m2.factory.framework_variant``).
        seeds: A number ``n`` (seeds ``0 .. n-1``) or explicit seeds.
        model_config: Shared model options (embedding size, hidden layers, tasks).
        train_config: Optimiser and early-stopping options.
        baselines: Add the popularity and logistic-regression rows.
        out_dir: If given, write ``offline.md`` and ``offline.json`` there.
        progress: Show a progress bar (tqdm) while training.

    Returns:
        The :class:`OfflineResult`.

    Raises:
        ConfigError: no seed, or an unknown model or framework name (checked first).
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError(f"seeds == {seeds!r}, must give at least one seed")
    check_names(models, frameworks)
    mcfg = model_config or ModelConfig()
    tcfg = train_config or TrainConfig()
    jobs: list[tuple[str, str]] = [(fw, m) for fw in frameworks for m in models]
    if baselines:
        extra = [("none", LOGISTIC)] if LOGISTIC not in models or "none" not in frameworks else []
        jobs = extra + jobs
    cohorts = _cohorts(data)
    y_test = data.test.label(mcfg.tasks[0])
    users = data.test.user_ids
    runs: list[RunRecord] = []
    if baselines:
        scores = popularity_scores(data)
        metrics = evaluate_cohorts((y_test >= 0.5), scores, users, cohorts)
        runs += [RunRecord(POPULARITY, "none", s, metrics, 0, 0, 0.0) for s in seed_list]
    bar = tqdm(total=len(jobs) * len(seed_list), disable=not progress, unit="run")
    for seed in seed_list:
        for fw, name in jobs:
            bar.set_description(f"{name}/{fw} seed {seed}")
            ss = _seed_sequence(seed, name, fw)
            init_ss, order_ss, fw_ss = ss.spawn(3)
            base = build_model(name, data.spec, mcfg, torch_generator(init_ss))
            model: TrainableModel = PlainModel(base) if fw == "none" else _wrap(fw, base, fw_ss)

            def show(epoch: int, loss: float, auc: float) -> None:
                bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", valid_auc=f"{auc:.4f}")

            start = time.perf_counter()
            fitted = fit(
                model,
                data.train,
                data.valid,
                tcfg,
                torch_generator(order_ss),
                on_epoch=show,
                tasks=mcfg.tasks,
                valid_score=auc_or_nan,
            )
            p = predict(model, data.test, mcfg.tasks, tcfg.eval_batch_size)[:, 0]
            metrics = evaluate_cohorts((y_test >= 0.5), p, users, cohorts)
            runs.append(
                RunRecord(
                    name,
                    fw,
                    seed,
                    metrics,
                    fitted.n_epochs,
                    fitted.best_epoch,
                    time.perf_counter() - start,
                )
            )
            bar.update(1)
    bar.close()
    result = OfflineResult(
        data=data.name,
        split=data.split,
        n_train=len(data.train),
        n_valid=len(data.valid),
        n_test=len(data.test),
        seeds=tuple(seed_list),
        rows=_aggregate(runs),
        runs=tuple(runs),
    )
    if out_dir is not None:
        result.write(out_dir)
    return result


def _aggregate(runs: Sequence[RunRecord]) -> tuple[OfflineRow, ...]:
    keys: list[tuple[str, str]] = []
    for r in runs:
        if (r.model, r.framework) not in keys:
            keys.append((r.model, r.framework))

    def stats(values: list[float]) -> tuple[float, float]:
        a = np.asarray(values, dtype=np.float64)
        return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else float("nan")

    means: dict[tuple[str, str], float] = {}
    partial = []
    for key in keys:
        group = [r for r in runs if (r.model, r.framework) == key]
        auc = stats([g.metrics["all"].auc for g in group])
        uauc = stats([g.metrics["all"].uauc for g in group])
        ll = stats([g.metrics["all"].log_loss for g in group])
        ece = stats([g.metrics["all"].ece for g in group])[0]
        cohort = {c: stats([g.metrics[c].auc for g in group])[0] for c in COHORTS[1:]}
        secs = stats([g.train_seconds for g in group])[0]
        means[key] = auc[0]
        skipped = group[0].metrics["all"].n_users_skipped
        partial.append((key, len(group), auc, uauc, ll, ece, skipped, cohort, secs))
    rows = []
    for key, n, auc, uauc, ll, ece, skipped, cohort, secs in partial:
        model, fw = key
        if fw != "none":
            ref = (model, "none")
        elif model not in (LOGISTIC, POPULARITY):
            ref = (LOGISTIC, "none")
        else:
            ref = None
        ri = float("nan")
        if ref is not None and ref in means and means[ref] > 0.5:
            ri = rela_impr(auc[0], means[ref])
        rows.append(
            OfflineRow(
                model=model,
                framework=fw,
                n_seeds=n,
                auc_mean=auc[0],
                auc_std=auc[1],
                uauc_mean=uauc[0],
                uauc_std=uauc[1],
                log_loss_mean=ll[0],
                log_loss_std=ll[1],
                ece_mean=ece,
                n_users_skipped=skipped,
                rela_impr=ri,
                reference="/".join(ref) if ref is not None and ref in means else "",
                cohort_auc=cohort,
                train_seconds=secs,
            )
        )
    return tuple(rows)


__all__ = [
    "COHORTS",
    "OfflineResult",
    "OfflineRow",
    "RunRecord",
    "check_names",
    "popularity_scores",
    "run_offline",
]
