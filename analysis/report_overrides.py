"""Report options set on top of another configuration: what ``adasim report`` changes.

A finished ``adasim run`` knows its report options (arms, alpha, window, cohort rule):
rebuilding its report must give the run's own report, and an option given on the command
line must change only what it names. :class:`ReportOverrides` holds those options, each
``None`` when not given, and :meth:`ReportOverrides.apply` lays them on a base
:class:`~analysis.report.ReportConfig`: the run's, or the defaults for a plain log.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from analysis.abtest import ABConfig
from analysis.errors import AnalysisError
from analysis.metrics import MetricsWindow
from analysis.multiple_testing import Correction
from analysis.report import ReportConfig
from analysis.ttest import RelCI

_AB_FIELDS = ("control", "treatment", "alpha", "cuped", "rel_ci", "correction", "segments")


@dataclass(frozen=True)
class ReportOverrides:
    """Report options a user set; ``None`` keeps the base configuration's value.

    Attributes:
        control: Control arm.
        treatment: Treatment arm.
        alpha: Significance level of tests and intervals.
        cuped: Use the pre-period covariates.
        rel_ci: Relative interval: ``"log_delta"`` or ``"fieller"``.
        correction: Multiple-testing correction: ``"holm"``, ``"bh"`` or ``"none"``.
        segments: Segment specs (see ``analysis.segments``).
        start_day: First day of the window; with ``end_day``, replaces the base window's
            days. The pre-period is the base window's, unless ``pre_start_day`` is given
            (then it runs from there to ``start_day``).
        end_day: Day after the window's last.
        pre_start_day: First day of the pre-period; needs ``start_day`` and ``end_day``.
        new_user_days: Cohort rule (of the window and of an inferred window).
        rel_tau: Mixing scale of the mSPRT, as a relative lift.

    Example:
        >>> from analysis.report import ReportConfig
        >>> cfg = ReportOverrides(alpha=0.01, start_day=2, end_day=5).apply(ReportConfig())
        >>> cfg.ab.alpha, cfg.window.start_day, cfg.ab.cuped
        (0.01, 2, True)
    """

    control: str | None = None
    treatment: str | None = None
    alpha: float | None = None
    cuped: bool | None = None
    rel_ci: RelCI | None = None
    correction: Correction | None = None
    segments: tuple[str, ...] | None = None
    start_day: int | None = None
    end_day: int | None = None
    pre_start_day: int | None = None
    new_user_days: int | None = None
    rel_tau: float | None = None

    def __post_init__(self) -> None:
        if (self.start_day is None) != (self.end_day is None):
            raise AnalysisError(
                f"start_day == {self.start_day!r} and end_day == {self.end_day!r}: "
                "give both (--start-day and --end-day) or neither"
            )
        if self.pre_start_day is not None and self.start_day is None:
            raise AnalysisError(
                f"pre_start_day == {self.pre_start_day!r} without a window: "
                "give --start-day and --end-day too"
            )
        if self.rel_tau is not None and not self.rel_tau > 0:
            raise AnalysisError(f"rel_tau == {self.rel_tau!r}, must be > 0")

    def given(self) -> dict[str, Any]:
        """The options that were set, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def apply(self, base: ReportConfig) -> ReportConfig:
        """``base`` with the given options replaced; the rest of it is kept.

        Raises:
            AnalysisError: A resulting option breaks a rule (e.g. ``alpha`` outside
                (0, 1), a window whose pre-period overlaps it).
        """
        given = self.given()
        ab: ABConfig = replace(base.ab, **{k: v for k, v in given.items() if k in _AB_FIELDS})
        new_user_days = base.new_user_days if self.new_user_days is None else self.new_user_days
        window = base.window
        if self.start_day is not None and self.end_day is not None:
            pre_start, pre_end = self.pre_start_day, None
            if pre_start is None and window is not None and window.pre_start_day is not None:
                # Keep the base's pre-period where it was: it must not grow into treated days.
                pre_start, pre_end = window.pre_start_day, window.pre_end
            window = MetricsWindow(
                start_day=self.start_day,
                end_day=self.end_day,
                pre_start_day=pre_start,
                pre_end_day=pre_end,
                new_user_days=new_user_days,
            )
        elif window is not None and self.new_user_days is not None:
            window = replace(window, new_user_days=self.new_user_days)
        return replace(
            base,
            ab=ab,
            window=window,
            new_user_days=new_user_days,
            rel_tau=base.rel_tau if self.rel_tau is None else self.rel_tau,
        )


__all__ = ["ReportOverrides"]
