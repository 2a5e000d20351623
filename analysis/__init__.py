"""Analysis of event logs: per-user metrics, A/B statistics, offline metrics, OPE, bias, reports.

Works on any event log with the documented columns (simulated or real); imports neither
the simulator nor the agents, and no torch. Off-policy evaluation lives in the
:mod:`analysis.ope` subpackage.
"""

from __future__ import annotations

from analysis.abtest import ABConfig, ExperimentAnalysis, analyze_experiment, compare
from analysis.bias import BiasResult, exposure_bias, gini, item_exposure
from analysis.cuped import cuped_stats
from analysis.errors import AnalysisError, InsufficientDataError, SchemaError
from analysis.exposure import (
    ArmExposure,
    DailyExposure,
    ExposureConfig,
    arm_exposure,
    daily_exposure,
    exposure_tables,
    head_items,
    release_days,
)
from analysis.figures import (
    check_figure_labels,
    cumulative_lift_plot,
    forest_plot,
    rank_frequency_plot,
    save_figure,
)
from analysis.group_sequential import (
    alpha_spent,
    boundaries_from_spending,
    brownian_correlation,
    classical_boundaries,
    classical_constant,
    repeated_ci,
    spending_boundaries,
)
from analysis.harness import HarnessResult, PeekingResult, aa_peeking, binomial_band, rerandomise
from analysis.lift_table import LiftCell, LiftTable, lift_cells, render_lift_table
from analysis.look_covariance import (
    log_ratio_correlation,
    look_covariance,
    look_covariance_columns,
)
from analysis.metrics import (
    DailyTable,
    MetricsWindow,
    daily_user_metrics,
    infer_window,
    load_events,
    user_metrics,
)
from analysis.moments import Moments
from analysis.multiple_testing import adjust_pvalues, benjamini_hochberg, holm
from analysis.offline import (
    CalibrationResult,
    OfflineMetrics,
    UAUCResult,
    calibration,
    log_loss,
    rela_impr,
    roc_auc,
    uauc,
)
from analysis.power import PowerResult, mde, mde_from_pre_period, power_for_effect
from analysis.ratio import ratio_stats
from analysis.report import Report, ReportConfig, ReportSection, build_report, write_report
from analysis.report_overrides import ReportOverrides
from analysis.results import EffectResult, ResultCollection, SegmentDiffResult
from analysis.schema import (
    COUNT_COLUMNS,
    DEFAULT_METRICS,
    EVENT_COLUMNS,
    USER_COLUMNS,
    MetricDef,
    metric_by_name,
)
from analysis.segments import segment_difference, segment_masks
from analysis.sequential import (
    SequentialConfig,
    SequentialResult,
    group_sequential_relative,
    monitor,
    msprt,
)
from analysis.srm import SRMResult, srm_test
from analysis.sweep_report import (
    SweepReport,
    SweepReportConfig,
    clopper_pearson,
    coverage_table,
    lift_by_parameter,
    rejection_table,
    write_sweep_report,
)
from analysis.synthetic import SyntheticLogConfig, synthetic_log
from analysis.tables import load_users
from analysis.ttest import WelchArrays, welch_from_stats, welch_from_values
from analysis.twin import TrueEffect, twin_effects, twin_effects_from_runs

__all__ = [
    "COUNT_COLUMNS",
    "DEFAULT_METRICS",
    "EVENT_COLUMNS",
    "USER_COLUMNS",
    "ABConfig",
    "AnalysisError",
    "ArmExposure",
    "BiasResult",
    "CalibrationResult",
    "DailyExposure",
    "DailyTable",
    "EffectResult",
    "ExperimentAnalysis",
    "ExposureConfig",
    "HarnessResult",
    "InsufficientDataError",
    "LiftCell",
    "LiftTable",
    "MetricDef",
    "MetricsWindow",
    "Moments",
    "OfflineMetrics",
    "PeekingResult",
    "PowerResult",
    "Report",
    "ReportConfig",
    "ReportOverrides",
    "ReportSection",
    "ResultCollection",
    "SRMResult",
    "SchemaError",
    "SegmentDiffResult",
    "SequentialConfig",
    "SequentialResult",
    "SweepReport",
    "SweepReportConfig",
    "SyntheticLogConfig",
    "TrueEffect",
    "UAUCResult",
    "WelchArrays",
    "aa_peeking",
    "adjust_pvalues",
    "alpha_spent",
    "analyze_experiment",
    "arm_exposure",
    "benjamini_hochberg",
    "binomial_band",
    "boundaries_from_spending",
    "brownian_correlation",
    "build_report",
    "calibration",
    "check_figure_labels",
    "classical_boundaries",
    "classical_constant",
    "clopper_pearson",
    "compare",
    "coverage_table",
    "cumulative_lift_plot",
    "cuped_stats",
    "daily_exposure",
    "daily_user_metrics",
    "exposure_bias",
    "exposure_tables",
    "forest_plot",
    "gini",
    "group_sequential_relative",
    "head_items",
    "holm",
    "infer_window",
    "item_exposure",
    "lift_by_parameter",
    "lift_cells",
    "load_events",
    "load_users",
    "log_loss",
    "log_ratio_correlation",
    "look_covariance",
    "look_covariance_columns",
    "mde",
    "mde_from_pre_period",
    "metric_by_name",
    "monitor",
    "msprt",
    "power_for_effect",
    "rank_frequency_plot",
    "ratio_stats",
    "rejection_table",
    "rela_impr",
    "release_days",
    "render_lift_table",
    "repeated_ci",
    "rerandomise",
    "roc_auc",
    "save_figure",
    "segment_difference",
    "segment_masks",
    "spending_boundaries",
    "srm_test",
    "synthetic_log",
    "twin_effects",
    "twin_effects_from_runs",
    "uauc",
    "user_metrics",
    "welch_from_stats",
    "welch_from_values",
    "write_report",
    "write_sweep_report",
]
