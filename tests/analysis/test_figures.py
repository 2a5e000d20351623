"""Every report figure has a title, labelled axes and units; the label checker works; the
forest plot marks the twin's truth."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.abtest import compare
from analysis.bias import item_exposure
from analysis.errors import AnalysisError
from analysis.figures import (
    TRUTH_LABEL,
    check_figure_labels,
    cumulative_lift_plot,
    forest_plot,
    rank_frequency_plot,
    save_figure,
)
from analysis.metrics import daily_user_metrics, user_metrics
from analysis.results import ResultCollection
from analysis.sequential import monitor
from analysis.synthetic import SyntheticLogConfig, synthetic_log
from analysis.twin import TrueEffect


@pytest.fixture(scope="module")
def log() -> tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]:
    cfg = SyntheticLogConfig(n_users=600, n_days=4, pre_days=3, return_lift=0.2)
    events, users = synthetic_log(cfg, rng=3)
    return events, users, cfg


def _figures(log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]) -> dict[str, Figure]:
    events, users, cfg = log
    table = user_metrics(events, users, cfg.window)
    daily = daily_user_metrics(events, users, cfg.window)
    return {
        "forest": forest_plot(compare(table)),
        "cumulative": cumulative_lift_plot(
            monitor(daily, ["active_days", "duration", "finish_rate"]), {"duration": "s"}
        ),
        "rank_frequency": rank_frequency_plot(item_exposure(events)),
    }


def test_every_figure_is_labelled(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    for name, fig in _figures(log).items():
        assert check_figure_labels(fig) == [], name


def test_save_png(
    tmp_path: object, log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig]
) -> None:
    fig = _figures(log)["rank_frequency"]
    path = save_figure(fig, f"{tmp_path}/sub/rf.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checker_finds_missing_labels() -> None:
    fig = Figure()
    ax = fig.subplots()
    ax.set_xlabel("day")
    problems = check_figure_labels(fig)
    assert "axes 0 has no title" in problems
    assert "axes 0 has no y label" in problems
    assert "axes 0 x label 'day' gives no unit in parentheses" in problems


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: forest_plot(ResultCollection([])), "no finite relative effect"),
        (lambda: cumulative_lift_plot(ResultCollection([])), "no rows for segment 'all'"),
        (lambda: rank_frequency_plot({}), "exposure is empty"),
    ],
)
def test_invalid_input(call: object, match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        call()  # type: ignore[operator]


def _truth_markers(fig: Figure) -> list[Line2D]:
    return [line for line in fig.axes[0].get_lines() if line.get_marker() == "x"]


def test_forest_plot_marks_the_twins_truth(
    log: tuple[pd.DataFrame, pd.DataFrame, SyntheticLogConfig],
) -> None:
    """One 'x' per row with a known truth, at the true lift in percent, in the legend
    (last, after the segments) and named in the title; none without a twin."""
    events, users, cfg = log
    effects = compare(user_metrics(events, users, cfg.window))
    known = [r for r in effects if r.metric != "likes"]  # rows without truth get no mark
    truth = ResultCollection(
        [
            TrueEffect(r.metric, r.segment, 10, 1.0, 1.0, 0.0, 0.01 * (k + 1))
            for k, r in enumerate(known)
        ]
    )
    fig = forest_plot(effects, truth=truth)
    markers = _truth_markers(fig)
    assert len(markers) == len(known)
    xs = sorted(float(m.get_xdata()[0]) for m in markers)
    assert xs == pytest.approx(sorted(100 * t.rel_effect_size for t in truth))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1] == TRUTH_LABEL
    assert labels.count(TRUTH_LABEL) == 1
    assert "x: the twin's true lift" in fig.axes[0].get_title()
    assert check_figure_labels(fig) == []
    plain = forest_plot(effects)
    assert _truth_markers(plain) == []
    assert TRUTH_LABEL not in [t.get_text() for t in plain.axes[0].get_legend().get_texts()]
