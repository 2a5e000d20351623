"""The analysis of a sweep: many runs' lifts against the truth, coverage, false positives.

Input is the sweep table (one row per run and (metric, segment); columns ``metric``,
``segment``, ``rel_effect_size``, ``rel_effect_size_ci_lower/upper``, ``pvalue``,
``true_rel_effect_size``, ``covered``, ``status``, and one column per grid key), as
written by ``adasim sweep``. Only rows with status ``"ok"`` are analysed.

* **Coverage** of the true relative lift by the A/B interval: ``k`` of ``n`` replicates
  cover it; the Clopper-Pearson interval (Clopper and Pearson 1934)

      [B(q; k, n - k + 1), B(1 - q; k + 1, n - k)],  q = (1 - level) / 2,

  with ``B(.; a, b)`` the Beta quantile (``[0, .]`` at ``k = 0``, ``[., 1]`` at ``k = n``)
  is an exact interval for the coverage probability; the nominal ``1 - alpha`` should lie
  inside it.
* **False-positive rate** (A/A sweeps, where every rejection is false): the share of
  ``pvalue < alpha``. Under a calibrated test the count is Binomial(n, alpha), so it must
  fall inside the exact acceptance band ``[F^{-1}(q), F^{-1}(1 - q)] / n`` of that law
  (:func:`analysis.harness.binomial_band`); for sweeps with a real effect the same column
  is the empirical power.
* **Lift by grid parameter**: mean estimated and true lift per value of each grid key.
* **What the A/B test estimates** per grid value (a training-data design, say) and cell:
  the bias of the estimate against the truth (mean gap, Student-t interval), the RMSE and
  the coverage (:func:`estimand_table`).

Imports neither the simulator nor torch: any table with these columns will do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from matplotlib.figure import Figure

from analysis.errors import AnalysisError, SchemaError
from analysis.figures import check_figure_labels, save_figure
from analysis.harness import binomial_band
from analysis.mean_interval import mean_interval

REQUIRED = (
    "run_id",
    "metric",
    "segment",
    "rel_effect_size",
    "rel_effect_size_ci_lower",
    "rel_effect_size_ci_upper",
    "pvalue",
    "true_rel_effect_size",
    "status",
)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion ``k / n``.

    Example (the same as ``scipy.stats.binomtest(9, 10).proportion_ci(0.95, "exact")``):
        >>> tuple(round(x, 4) for x in clopper_pearson(9, 10))
        (0.555, 0.9975)
    """
    if n < 1:
        raise AnalysisError(f"n == {n}, must be >= 1")
    if not 0 <= k <= n:
        raise AnalysisError(f"k == {k}, must be in [0, n] with n == {n}")
    if not 0.0 < level < 1.0:
        raise AnalysisError(f"level == {level}, must be in (0, 1)")
    q = (1.0 - level) / 2.0
    lo = 0.0 if k == 0 else float(scipy.stats.beta.ppf(q, k, n - k + 1))
    hi = 1.0 if k == n else float(scipy.stats.beta.ppf(1.0 - q, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class SweepReportConfig:
    """Options of the sweep report.

    Attributes:
        grid_keys: The grid's config keys (columns of the table).
        alpha: Significance level of the runs' tests (the nominal coverage is ``1 - alpha``).
        level: Confidence level of the Clopper-Pearson intervals and binomial bands.
        aa: The sweep is an A/A test: every rejection is a false positive.
        title: Report title.
    """

    grid_keys: tuple[str, ...] = ()
    alpha: float = 0.05
    level: float = 0.95
    aa: bool = False
    title: str = "Sweep"

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise AnalysisError(f"alpha == {self.alpha}, must be in (0, 1)")
        if not 0.0 < self.level < 1.0:
            raise AnalysisError(f"level == {self.level}, must be in (0, 1)")


def ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of finished runs with a metric (failed and missing runs dropped)."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise SchemaError(f"sweep table lacks column(s) {missing}; required: {list(REQUIRED)}")
    return table[(table["status"] == "ok") & table["metric"].notna()].copy()


def _groups(
    frame: pd.DataFrame, by: Sequence[str]
) -> list[tuple[tuple[object, ...], pd.DataFrame]]:
    return [
        (key if isinstance(key, tuple) else (key,), g)
        for key, g in frame.groupby(list(by), sort=False, dropna=False)
    ]


def coverage_table(
    table: pd.DataFrame,
    alpha: float = 0.05,
    level: float = 0.95,
    by: Sequence[str] = ("metric", "segment"),
) -> pd.DataFrame:
    """Coverage of the true lift by the ``1 - alpha`` interval, per group, with exact CIs.

    Only rows with a known truth and a defined interval count. Columns: ``by``, ``n``,
    ``n_covered``, ``coverage``, ``coverage_ci_lower``, ``coverage_ci_upper``,
    ``nominal``, ``consistent`` (the nominal coverage lies in the interval),
    ``n_undefined`` (rows left out because their interval is undefined).
    """
    rows = ok_rows(table)
    rows = rows[rows["true_rel_effect_size"].notna()]
    # An undefined interval (e.g. a control mean of zero in a small cohort) neither covers
    # nor misses; such rows are counted apart in ``n_undefined``.
    defined = rows["rel_effect_size_ci_lower"].notna() & rows["rel_effect_size_ci_upper"].notna()
    rows["_undefined"] = ~defined
    undefined = rows.groupby(list(by), sort=False, dropna=False)["_undefined"].sum()
    rows = rows[defined]
    lo, hi = rows["rel_effect_size_ci_lower"], rows["rel_effect_size_ci_upper"]
    true = rows["true_rel_effect_size"].astype(float)
    rows["_covered"] = (lo <= true) & (true <= hi)
    out = []
    for key, g in _groups(rows, by):
        n, k = len(g), int(g["_covered"].sum())
        ci = clopper_pearson(k, n, level)
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "n": n,
                "n_covered": k,
                "coverage": k / n,
                "coverage_ci_lower": ci[0],
                "coverage_ci_upper": ci[1],
                "nominal": 1.0 - alpha,
                "consistent": bool(ci[0] <= 1.0 - alpha <= ci[1]),
                "n_undefined": int(undefined.get(key if len(key) > 1 else key[0], 0)),
            }
        )
    return pd.DataFrame(out)


def rejection_table(
    table: pd.DataFrame,
    alpha: float = 0.05,
    level: float = 0.95,
    by: Sequence[str] = ("metric", "segment"),
) -> pd.DataFrame:
    """Share of runs with ``pvalue < alpha`` per group, against the Binomial(n, alpha) band.

    In an A/A sweep this is the false-positive rate. Columns: ``by``, ``n``,
    ``n_rejected``, ``rate``, ``rate_ci_lower``, ``rate_ci_upper`` (Clopper-Pearson),
    ``band_lower``, ``band_upper`` (exact acceptance band of the rate under a calibrated
    test), ``inside``, and ``n_significant_adjusted`` (after the runs' multiple-testing
    correction, when the table has ``significant``).
    """
    rows = ok_rows(table)
    rows = rows[rows["pvalue"].notna()]
    out = []
    for key, g in _groups(rows, by):
        n, k = len(g), int((g["pvalue"].astype(float) < alpha).sum())
        ci = clopper_pearson(k, n, level)
        band = binomial_band(n, alpha, level)
        rec: dict[str, object] = {
            **dict(zip(by, key, strict=True)),
            "n": n,
            "n_rejected": k,
            "rate": k / n,
            "rate_ci_lower": ci[0],
            "rate_ci_upper": ci[1],
            "band_lower": band[0],
            "band_upper": band[1],
            "inside": bool(band[0] <= k / n <= band[1]),
        }
        if "significant" in g.columns:
            rec["n_significant_adjusted"] = int(g["significant"].fillna(False).astype(bool).sum())
        out.append(rec)
    return pd.DataFrame(out)


def estimand_table(
    table: pd.DataFrame,
    alpha: float = 0.05,
    level: float = 0.95,
    by: Sequence[str] = ("metric", "segment"),
) -> pd.DataFrame:
    """What the A/B estimate estimates, per group: its bias against the truth, RMSE, coverage.

    With ``g_i = d_i - T_i`` the gap of run ``i`` (A/B estimate minus the twin's true
    relative lift) over the ``n`` runs of a group with both known: ``bias`` is the mean
    gap with its Student-t interval at ``level`` (``bias_ci_lower``, ``bias_ci_upper``),
    ``rmse`` is ``sqrt(mean(g^2))``, ``sd_gap`` the gaps' standard deviation and
    ``mean_truth`` the mean true lift; then the coverage columns of
    :func:`coverage_table` (``1 - alpha`` intervals, Clopper-Pearson at ``level``).
    """
    rows = ok_rows(table)
    known = rows["true_rel_effect_size"].notna() & rows["rel_effect_size"].notna()
    rows = rows[known].copy()
    rows["_gap"] = rows["rel_effect_size"].astype(float) - rows["true_rel_effect_size"].astype(
        float
    )
    out = []
    for key, g in _groups(rows, by):
        gap = g["_gap"].to_numpy(float)
        bias = mean_interval(gap, level)
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "n_gap": bias.n,
                "bias": bias.mean,
                "bias_ci_lower": bias.lower,
                "bias_ci_upper": bias.upper,
                "rmse": float(np.sqrt(np.mean(gap**2))),
                "sd_gap": bias.sd,
                "mean_truth": float(g["true_rel_effect_size"].astype(float).mean()),
            }
        )
    gaps = pd.DataFrame(out)
    cov = coverage_table(table, alpha, level, by)
    if gaps.empty or cov.empty:
        return gaps
    return gaps.merge(cov, on=list(by), how="left", sort=False)


def lift_by_parameter(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Mean and spread of the estimated lift, and the mean true lift, per value of ``key``."""
    rows = ok_rows(table)
    if key not in rows.columns:
        raise SchemaError(f"grid key {key!r} is not a column of the sweep table")
    g = rows.groupby([key, "metric", "segment"], sort=True)
    out = g.agg(
        n=("rel_effect_size", "size"),
        mean_rel_effect_size=("rel_effect_size", "mean"),
        std_rel_effect_size=("rel_effect_size", "std"),
        mean_true_rel_effect_size=("true_rel_effect_size", "mean"),
    )
    return out.reset_index()


# ----------------------------------------------------------------------------- figures


def estimates_vs_truth_plot(table: pd.DataFrame, segment: str = "all") -> Figure:
    """Estimated against true relative lift, one panel per metric (identity line dashed)."""
    rows = ok_rows(table)
    rows = rows[(rows["segment"] == segment) & rows["true_rel_effect_size"].notna()]
    if rows.empty:
        raise AnalysisError(f"no finished run with a true lift in segment {segment!r}")
    metrics = list(dict.fromkeys(rows["metric"]))
    ncol = min(3, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    fig = Figure(figsize=(4.0 * ncol, 3.4 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
    for ax, metric in zip(axes, metrics, strict=False):
        m = rows[rows["metric"] == metric]
        true = 100 * m["true_rel_effect_size"].astype(float)
        est = 100 * m["rel_effect_size"].astype(float)
        lo = 100 * m["rel_effect_size_ci_lower"].astype(float)
        hi = 100 * m["rel_effect_size_ci_upper"].astype(float)
        ax.vlines(true, lo, hi, color="#9ecae1", linewidth=1)
        ax.plot(true, est, "o", color="#1f77b4", markersize=3)
        span = np.nanpercentile(np.r_[true, est], [1, 99])
        ax.plot(span, span, "--", color="grey", linewidth=1)
        ax.set_title(f"{metric} ({segment} users)")
        ax.set_xlabel("true lift (%)")
        ax.set_ylabel("estimated lift (%)")
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return fig


def coverage_plot(coverage: pd.DataFrame, nominal: float) -> Figure:
    """Coverage per metric and segment with Clopper-Pearson intervals; nominal dashed."""
    if coverage.empty:
        raise AnalysisError("coverage table is empty (no run with a known true lift)")
    labels = [f"{r.metric}/{r.segment}" for r in coverage.itertuples()]
    y = np.arange(len(labels))
    fig = Figure(figsize=(7.0, 1.0 + 0.28 * len(labels)), layout="constrained")
    ax = fig.subplots()
    c = 100 * coverage["coverage"].to_numpy(float)
    err = np.vstack(
        [
            c - 100 * coverage["coverage_ci_lower"].to_numpy(float),
            100 * coverage["coverage_ci_upper"].to_numpy(float) - c,
        ]
    )
    ax.errorbar(c, y, xerr=err, fmt="o", color="#1f77b4", capsize=2)
    ax.axvline(100 * nominal, linestyle="--", color="grey")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_title("Coverage of the true lift by the A/B interval")
    ax.set_xlabel("coverage (% of replicates)")
    ax.set_ylabel("metric / segment (cell)")
    return fig


def estimand_plot(estimand: pd.DataFrame, key: str, nominal: float) -> Figure:
    """Per grid value of ``key`` (colours): coverage with its Clopper-Pearson interval
    (left, nominal dashed) and bias with its t interval (right), per metric and segment."""
    if estimand.empty:
        raise AnalysisError("estimand table is empty (no run with a known true lift)")
    cells = list(dict.fromkeys(zip(estimand["metric"], estimand["segment"], strict=True)))
    values = list(dict.fromkeys(estimand[key]))
    fig = Figure(figsize=(11.0, 1.2 + 0.32 * len(cells)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    step = 0.8 / max(1, len(values))
    for i, value in enumerate(values):
        g = estimand[estimand[key] == value]
        y = np.array([cells.index(c) for c in zip(g["metric"], g["segment"], strict=True)])
        y = y - 0.4 + step * (i + 0.5)
        c = 100 * g["coverage"].to_numpy(float)
        cov_err = np.vstack(
            [
                c - 100 * g["coverage_ci_lower"].to_numpy(float),
                100 * g["coverage_ci_upper"].to_numpy(float) - c,
            ]
        )
        colour = f"C{i % 10}"
        left.errorbar(c, y, xerr=cov_err, fmt="o", color=colour, capsize=2, label=str(value))
        b = 100 * g["bias"].to_numpy(float)
        bias_err = np.vstack(
            [
                b - 100 * g["bias_ci_lower"].to_numpy(float),
                100 * g["bias_ci_upper"].to_numpy(float) - b,
            ]
        )
        right.errorbar(b, y, xerr=bias_err, fmt="o", color=colour, capsize=2)
    left.axvline(100 * nominal, linestyle="--", color="grey")
    right.axvline(0.0, linestyle="--", color="grey")
    left.set_yticks(np.arange(len(cells)), [f"{m}/{s}" for m, s in cells])
    left.invert_yaxis()
    left.set_title("Coverage of the twin's truth by the A/B interval")
    left.set_xlabel("coverage (% of replicates)")
    left.set_ylabel("metric / segment (cell)")
    left.legend(title=key, fontsize="small")
    right.set_title("Bias of the A/B estimate (estimate - truth)")
    right.set_xlabel("mean gap (relative lift, percentage points)")
    right.set_ylabel("metric / segment (cell)")
    return fig


def rejection_plot(rejections: pd.DataFrame, alpha: float, aa: bool) -> Figure:
    """Rejection rate per metric and segment with the binomial acceptance band shaded."""
    if rejections.empty:
        raise AnalysisError("rejection table is empty (no finished run)")
    labels = [f"{r.metric}/{r.segment}" for r in rejections.itertuples()]
    y = np.arange(len(labels))
    fig = Figure(figsize=(7.0, 1.0 + 0.28 * len(labels)), layout="constrained")
    ax = fig.subplots()
    bands = rejections[["band_lower", "band_upper"]].to_numpy(float)
    for i, (lo, hi) in enumerate(bands):
        ax.fill_betweenx([i - 0.4, i + 0.4], 100 * lo, 100 * hi, color="#d9d9d9")
    rate = 100 * rejections["rate"].to_numpy(float)
    err = np.vstack(
        [
            rate - 100 * rejections["rate_ci_lower"].to_numpy(float),
            100 * rejections["rate_ci_upper"].to_numpy(float) - rate,
        ]
    )
    ax.errorbar(rate, y, xerr=err, fmt="o", color="#d62728", capsize=2)
    ax.axvline(100 * alpha, linestyle="--", color="grey")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    what = "False-positive rate (A/A)" if aa else "Rejection rate"
    ax.set_title(f"{what}: p < {alpha:g}; grey: exact binomial band")
    ax.set_xlabel("runs with p < alpha (%)")
    ax.set_ylabel("metric / segment (cell)")
    return fig


def lift_by_parameter_plot(by_value: pd.DataFrame, key: str, segment: str = "all") -> Figure:
    """Mean estimated (solid, +- one sd) and true (dashed) lift against one grid key."""
    rows = by_value[by_value["segment"] == segment]
    if rows.empty:
        raise AnalysisError(f"no rows for segment {segment!r} to plot against {key!r}")
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    # Any grid value that is not a number (an agent's name, a routing; pandas 3 reads
    # strings as its "str" dtype, not object) goes on a categorical axis.
    categorical = not pd.api.types.is_numeric_dtype(rows[key])
    for i, (metric, g) in enumerate(rows.groupby("metric", sort=False)):
        colour = f"C{i % 10}"
        x = np.arange(len(g)) if categorical else g[key].to_numpy(float)
        mean = 100 * g["mean_rel_effect_size"].to_numpy(float)
        sd = 100 * g["std_rel_effect_size"].fillna(0.0).to_numpy(float)
        ax.errorbar(x, mean, yerr=sd, marker="o", color=colour, label=str(metric), capsize=2)
        true = 100 * g["mean_true_rel_effect_size"].to_numpy(float)
        if np.isfinite(true).any():
            ax.plot(x, true, "--", color=colour)
        if categorical:
            ax.set_xticks(x, [str(v) for v in g[key]])
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_title(f"Lift by {key} ({segment} users); dashed: true lift")
    ax.set_xlabel(f"{key} (grid value)")
    ax.set_ylabel("relative lift (%)")
    ax.legend(fontsize="small", ncol=2)
    return fig


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class SweepReport:
    """What :func:`write_sweep_report` wrote.

    Attributes:
        markdown: Path of ``report.md``.
        summary: Path of ``report.json`` (every table of the report).
        figures: Paths of the PNG figures.
        coverage: The coverage table (empty without a known truth).
        rejections: The rejection (false-positive) table.
        headline: One line: runs, coverage range, rejections outside the band.
        figure_label_problems: Labelling problems found in the figures (should be empty).
    """

    markdown: Path
    summary: Path
    figures: tuple[Path, ...]
    coverage: pd.DataFrame
    rejections: pd.DataFrame
    headline: str
    figure_label_problems: dict[str, list[str]] = field(default_factory=dict)


def _md(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(none)\n"

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def write_sweep_report(
    table: pd.DataFrame, out_dir: str | Path, config: SweepReportConfig | None = None
) -> SweepReport:
    """Write ``report.md``, ``report.json`` and ``figures/*.png`` of a sweep into ``out_dir``."""
    cfg = config or SweepReportConfig()
    out = Path(out_dir)
    rows = ok_rows(table)
    n_runs = int(table["run_id"].nunique())
    status = table.drop_duplicates("run_id")["status"].value_counts().to_dict()
    cov = coverage_table(table, cfg.alpha, cfg.level)
    rej = rejection_table(table, cfg.alpha, cfg.level)
    figures: dict[str, Figure] = {}
    if not cov.empty:
        figures["estimates_vs_truth.png"] = estimates_vs_truth_plot(table)
        figures["coverage.png"] = coverage_plot(cov, 1.0 - cfg.alpha)
    if not rej.empty:
        figures["rejections.png"] = rejection_plot(rej, cfg.alpha, cfg.aa)
    # With a grid, what the A/B test estimates is a property of each grid value (a
    # training-data design, say): bias, RMSE and coverage per value and cell.
    estimand = pd.DataFrame()
    if cfg.grid_keys and not cov.empty:
        estimand = estimand_table(
            table, cfg.alpha, cfg.level, (*cfg.grid_keys, "metric", "segment")
        )
        if len(cfg.grid_keys) == 1:
            figures["estimand.png"] = estimand_plot(estimand, cfg.grid_keys[0], 1.0 - cfg.alpha)
    by_param = {}
    for key in cfg.grid_keys:
        by_param[key] = lift_by_parameter(table, key)
        if rows[key].nunique() > 1:
            figures[f"lift_by_{key}.png"] = lift_by_parameter_plot(by_param[key], key)
    paths, problems = [], {}
    for name, fig in figures.items():
        paths.append(save_figure(fig, out / "figures" / name))
        found = check_figure_labels(fig)
        if found:
            problems[name] = found
    n_out = int((~rej["inside"]).sum()) if not rej.empty else 0
    headline = f"{n_runs} runs {status}"
    if cfg.aa:
        headline += f"; false-positive rates outside the binomial band: {n_out}/{len(rej)}"
    if not cov.empty:
        headline += (
            f"; coverage {cov['coverage'].min():.0%}-{cov['coverage'].max():.0%} "
            f"(nominal {1 - cfg.alpha:.0%}), {int((~cov['consistent']).sum())}/{len(cov)} "
            "cells with the nominal outside the exact interval"
        )
    md = [f"# {cfg.title}\n", f"{headline}.\n"]
    if cfg.aa:
        md.append(
            f"\n## False-positive rate (A/A)\n\nShare of runs with p < {cfg.alpha:g} per metric "
            f"and cohort; band: exact Binomial(n, {cfg.alpha:g}) acceptance band at "
            f"{cfg.level:.0%}; rate CI: Clopper-Pearson.\n\n"
        )
    else:
        md.append(f"\n## Rejection rate (p < {cfg.alpha:g})\n\n")
    md.append(_md(rej))
    if not cov.empty:
        md.append(
            f"\n## Coverage of the twin's true lift by the {1 - cfg.alpha:.0%} interval\n\n"
            "CI: Clopper-Pearson at "
            f"{cfg.level:.0%}.\n\n"
        )
        md.append(_md(cov))
    if not estimand.empty:
        md.append(
            f"\n## What the A/B test estimates, by {', '.join(cfg.grid_keys)}\n\n"
            "Per grid value and cell, over the replicates with a known truth: bias (mean of "
            "A/B estimate minus the twin's true relative lift, with its Student-t interval "
            f"at {cfg.level:.0%}), RMSE, the gaps' sd, the mean truth, and the coverage of "
            f"the truth by the {1 - cfg.alpha:.0%} interval (Clopper-Pearson at "
            f"{cfg.level:.0%}).\n\n"
        )
        md.append(_md(estimand))
    for key, frame in by_param.items():
        md.append(f"\n## Lift by {key}\n\n")
        md.append(_md(frame))
    if paths:
        md.append("\n## Figures\n\n")
        md.extend(f"![{p.stem}](figures/{p.name})\n" for p in paths)
    md_path = out / "report.md"
    md_path.write_text("".join(md), encoding="utf-8")
    summary = {
        "headline": headline,
        "n_runs": n_runs,
        "status": status,
        "alpha": cfg.alpha,
        "level": cfg.level,
        "aa": cfg.aa,
        "rejections": json.loads(rej.to_json(orient="records")),
        "coverage": json.loads(cov.to_json(orient="records")),
        "estimand": json.loads(estimand.to_json(orient="records")),
        "lift_by_parameter": {
            k: json.loads(v.to_json(orient="records")) for k, v in by_param.items()
        },
        "figure_label_problems": problems,
    }
    json_path = out / "report.json"
    json_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return SweepReport(md_path, json_path, tuple(paths), cov, rej, headline, problems)


__all__ = [
    "SweepReport",
    "SweepReportConfig",
    "clopper_pearson",
    "coverage_table",
    "estimand_plot",
    "estimand_table",
    "estimates_vs_truth_plot",
    "lift_by_parameter",
    "lift_by_parameter_plot",
    "ok_rows",
    "rejection_plot",
    "rejection_table",
    "write_sweep_report",
]
