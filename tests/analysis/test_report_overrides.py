"""ReportOverrides changes only the options it names; bad combinations say which and why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.abtest import ABConfig
from analysis.errors import AnalysisError
from analysis.metrics import MetricsWindow
from analysis.report import ReportConfig
from analysis.report_overrides import ReportOverrides

RUN = ReportConfig(
    ab=ABConfig(alpha=0.05, expected_share=0.3),
    window=MetricsWindow(start_day=2, end_day=14, pre_start_day=0, pre_end_day=2, new_user_days=5),
    new_user_days=5,
    title="default: treatment vs control",
)
"""A run's options: its window has a pre-period, its split is not 50/50."""


def test_nothing_given_is_the_base() -> None:
    assert ReportOverrides().apply(RUN) == RUN
    assert ReportOverrides().given() == {}


def test_comparison_options_replace_only_themselves() -> None:
    got = ReportOverrides(alpha=0.01, correction="bh", cuped=False, segments=("all",)).apply(RUN)
    assert got == replace(
        RUN, ab=replace(RUN.ab, alpha=0.01, correction="bh", cuped=False, segments=("all",))
    )
    assert got.ab.expected_share == 0.3  # the run's split is kept for the SRM test


def test_a_new_window_keeps_the_runs_pre_period() -> None:
    got = ReportOverrides(start_day=4, end_day=10).apply(RUN)
    assert got.window == MetricsWindow(4, 10, pre_start_day=0, pre_end_day=2, new_user_days=5)
    # A pre-period given explicitly runs up to the new window.
    own = ReportOverrides(start_day=4, end_day=10, pre_start_day=1).apply(RUN)
    assert own.window == MetricsWindow(4, 10, pre_start_day=1, new_user_days=5)


def test_cohort_rule_reaches_the_window_and_the_inferred_one() -> None:
    got = ReportOverrides(new_user_days=3).apply(RUN)
    assert got.window == replace(RUN.window, new_user_days=3)  # type: ignore[type-var]
    assert got.new_user_days == 3
    plain = ReportOverrides(new_user_days=3).apply(ReportConfig())
    assert plain.window is None
    assert plain.new_user_days == 3


def test_plain_log_defaults_are_the_report_defaults() -> None:
    got = ReportOverrides(start_day=7, end_day=21, pre_start_day=0).apply(ReportConfig())
    assert got.window == MetricsWindow(7, 21, pre_start_day=0, new_user_days=7)
    assert got.ab == ABConfig()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start_day": 3}, r"start_day == 3 and end_day == None: give both"),
        ({"end_day": 3}, r"start_day == None and end_day == 3: give both"),
        ({"pre_start_day": 0}, r"pre_start_day == 0 without a window"),
        ({"rel_tau": 0.0}, r"rel_tau == 0\.0, must be > 0"),
    ],
)
def test_bad_combinations(overrides: dict[str, int | float], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        ReportOverrides(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alpha": 1.5}, r"alpha == 1\.5, must be in \(0, 1\)"),
        ({"treatment": "control"}, r"control == treatment == 'control', must differ"),
        # The run's pre-period ends on day 2: a window from day 1 would use treated days.
        ({"start_day": 1, "end_day": 5}, r"pre_end_day == 2, must be <= start_day == 1"),
    ],
)
def test_result_is_validated(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        ReportOverrides(**overrides).apply(RUN)  # type: ignore[arg-type]
