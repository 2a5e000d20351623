"""``adasim report RUN_DIR``: rebuild a run's report, the same one the run wrote.

Thin: parses the arguments into :class:`analysis.report_overrides.ReportOverrides`
(each option ``None`` when not given) and calls the library. On a finished ``adasim run``
(:func:`adasim.jobs.run_analysis.finished_run_config`) that is
:func:`adasim.jobs.run_analysis.analyse_run`, the code the run itself called, so the
rebuilt report, ``summary.json`` and title equal the run's and the options change only
what they name; on any other log it is :func:`analysis.report.build_report`.
"""

from __future__ import annotations

import argparse
import sys

from analysis.errors import AnalysisError
from analysis.report import Report, ReportConfig, build_report
from analysis.report_overrides import ReportOverrides
from simulator.errors import AdasimError

DESCRIPTION = """\
Rebuild the A/B report of a run directory: report.md, a self-contained report.html,
summary.json and figures/*.png, headed by the lift table (each cell's interval, the
simultaneous interval over the table, the twin's true lift, and "!" where the interval
misses that truth). It also prints the table.

On a directory written by `adasim run` (its config.toml names the arms) the report is
exactly the one the run wrote: its arms, alpha, window and title, the twin's true effects,
the off-policy estimates (after `adasim ope`), the learners' losses and the other arms'
tables. The options below change only what they name; the rest stays the run's.

On any other event log (events/ and users.parquet with the documented columns) the
options are the whole configuration: defaults as listed, and the window inferred from the
log (the first day the treatment was served) unless --start-day and --end-day are given.
"""

EPILOG = """\
examples:
  adasim report runs/default
  adasim report runs/default --alpha 0.01 --correction bh --out /tmp/default-alpha01
  adasim report runs/quick --no-cuped --segments all
  adasim report logs/real --start-day 7 --end-day 21 --pre-start-day 0 --new-user-days 7
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``report`` on the ``adasim`` sub-command parser."""
    p = subparsers.add_parser(
        "report",
        help="rebuild the A/B report (md, html, json, figures) of a run directory",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="a run directory: runs/<name> of `adasim run`, or any events/ + users.parquet",
    )
    p.add_argument("--out", default=None, help="output directory (default RUN_DIR)")
    p.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="significance level (default: the run's, else 0.05)",
    )
    p.add_argument(
        "--correction",
        choices=("holm", "bh", "none"),
        default=None,
        help="multiple-testing correction across metrics and segments (default holm)",
    )
    p.add_argument(
        "--rel-ci",
        choices=("log_delta", "fieller"),
        default=None,
        help="relative-lift interval (default log_delta, as tea-tasting)",
    )
    p.add_argument("--no-cuped", action="store_true", help="do not use pre-period covariates")
    p.add_argument("--control", default=None, help="control arm (default: the run's, else control)")
    p.add_argument(
        "--treatment", default=None, help="treatment arm (default: the run's, else treatment)"
    )
    p.add_argument(
        "--segments",
        default=None,
        help="comma list: all, new, old, a users column, or column=value (default all,new,old)",
    )
    p.add_argument(
        "--new-user-days", type=int, default=None, help="cohort rule (default: the run's, else 7)"
    )
    p.add_argument("--start-day", type=int, default=None, help="first day of the window")
    p.add_argument("--end-day", type=int, default=None, help="day after the window's last")
    p.add_argument(
        "--pre-start-day",
        type=int,
        default=None,
        help="first pre-period day (with --start-day and --end-day; default: the run's, or none)",
    )
    p.add_argument("--rel-tau", type=float, default=None, help="mSPRT mixing scale (default 0.05)")
    p.set_defaults(func=run)
    return p


def overrides_from_args(args: argparse.Namespace) -> ReportOverrides:
    """The options given on the command line; ``None`` for each one that was not."""
    segments = None
    if args.segments is not None:
        segments = tuple(s.strip() for s in args.segments.split(",") if s.strip())
    return ReportOverrides(
        control=args.control,
        treatment=args.treatment,
        alpha=args.alpha,
        cuped=False if args.no_cuped else None,
        rel_ci=args.rel_ci,
        correction=args.correction,
        segments=segments,
        start_day=args.start_day,
        end_day=args.end_day,
        pre_start_day=args.pre_start_day,
        new_user_days=args.new_user_days,
        rel_tau=args.rel_tau,
    )


def run(args: argparse.Namespace) -> int:
    """Build the report; print the table; return the exit code (0 ok, 2 bad input)."""
    from adasim.jobs.run_analysis import analyse_run, finished_run_config

    try:
        overrides = overrides_from_args(args)
        config = finished_run_config(args.run_dir)
        report: Report
        if config is not None:
            report = analyse_run(config, args.run_dir, overrides=overrides, out_dir=args.out).report
        else:
            report = build_report(
                args.run_dir, config=overrides.apply(ReportConfig()), out_dir=args.out
            )
    except (AnalysisError, AdasimError) as err:
        print(f"adasim report: {err}", file=sys.stderr)
        return 2
    if len(report.lift_table):
        print(report.lift_table)
    else:
        print(report.analysis.effects.filter(lambda r: r.segment == "all"))
    for srm in report.analysis.srm:
        if srm.mismatch:
            print(f"WARNING: sample-ratio mismatch in {srm.segment} (p = {srm.pvalue:.2g})")
    print(f"\nwrote {report.markdown}, {report.html}, {report.summary}")
    return 0


__all__ = ["DESCRIPTION", "add_parser", "overrides_from_args", "run"]
