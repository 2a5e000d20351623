"""``adasim report RUN_DIR``: rebuild a run's A/B report from its event log.

Thin: parses the arguments, calls :func:`analysis.report.build_report`, prints where the
files went and the headline table. The report holds ``report.md``, a self-contained
``report.html``, ``summary.json`` and ``figures/*.png``.

Examples:
    adasim report runs/default
    adasim report runs/quick --alpha 0.01 --correction bh --no-cuped --out /tmp/quick-report
    adasim report runs/quick --start-day 7 --end-day 21 --pre-start-day 0 --new-user-days 7
"""

from __future__ import annotations

import argparse
import sys

from analysis.abtest import ABConfig
from analysis.errors import AnalysisError
from analysis.metrics import MetricsWindow
from analysis.report import ReportConfig, build_report


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``report`` on the ``adasim`` sub-command parser."""
    p = subparsers.add_parser(
        "report",
        help="rebuild the A/B report (md, html, json, figures) of a run directory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="runs/<name> with events/ and users.parquet")
    p.add_argument("--out", default=None, help="output directory (default RUN_DIR)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument(
        "--correction",
        choices=("holm", "bh", "none"),
        default="holm",
        help="multiple-testing correction across metrics and segments (default holm)",
    )
    p.add_argument(
        "--rel-ci",
        choices=("log_delta", "fieller"),
        default="log_delta",
        help="relative-lift interval (default log_delta, as tea-tasting)",
    )
    p.add_argument("--no-cuped", action="store_true", help="do not use pre-period covariates")
    p.add_argument("--control", default="control", help="control arm name (default control)")
    p.add_argument("--treatment", default="treatment", help="treatment arm (default treatment)")
    p.add_argument(
        "--segments",
        default="all,new,old",
        help="comma list: all, new, old, a users column, or column=value (default all,new,old)",
    )
    p.add_argument("--new-user-days", type=int, default=7, help="cohort rule (default 7)")
    p.add_argument("--start-day", type=int, default=None, help="first day of the window")
    p.add_argument("--end-day", type=int, default=None, help="day after the window's last")
    p.add_argument("--pre-start-day", type=int, default=None, help="first pre-period day")
    p.add_argument("--rel-tau", type=float, default=0.05, help="mSPRT mixing scale (0.05)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the report; return the process exit code (0 ok, 2 bad input)."""
    try:
        window = None
        if args.start_day is not None or args.end_day is not None:
            if args.start_day is None or args.end_day is None:
                raise AnalysisError("--start-day and --end-day must be given together")
            window = MetricsWindow(
                start_day=args.start_day,
                end_day=args.end_day,
                pre_start_day=args.pre_start_day,
                new_user_days=args.new_user_days,
            )
        config = ReportConfig(
            ab=ABConfig(
                control=args.control,
                treatment=args.treatment,
                alpha=args.alpha,
                cuped=not args.no_cuped,
                rel_ci=args.rel_ci,
                correction=args.correction,
                segments=tuple(s.strip() for s in args.segments.split(",") if s.strip()),
            ),
            window=window,
            new_user_days=args.new_user_days,
            rel_tau=args.rel_tau,
        )
        report = build_report(args.run_dir, config=config, out_dir=args.out)
    except AnalysisError as err:
        print(f"adasim report: {err}", file=sys.stderr)
        return 2
    effects = report.analysis.effects.filter(lambda r: r.segment == "all")
    print(effects)
    for srm in report.analysis.srm:
        if srm.mismatch:
            print(f"WARNING: sample-ratio mismatch in {srm.segment} (p = {srm.pvalue:.2g})")
    print(f"wrote {report.markdown}, {report.html}, {report.summary}")
    return 0


__all__ = ["add_parser", "run"]
