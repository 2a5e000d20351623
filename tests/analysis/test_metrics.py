"""Per-user metrics from a hand-built event log, cohorts, pre-period, daily tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError, SchemaError
from analysis.metrics import MetricsWindow, daily_user_metrics, infer_window, user_metrics


def _events(
    rows: list[tuple[int, int, int, int, float, bool, bool, bool, bool, str]],
) -> pd.DataFrame:
    cols = [
        "day",
        "user_id",
        "session_id",
        "item_id",
        "listen_seconds",
        "finish",
        "like",
        "comment",
        "dislike",
        "arm",
    ]
    return pd.DataFrame(rows, columns=cols)


EVENTS = _events(
    [
        # day, user, session, item, listen, finish, like, comment, dislike, arm
        (-2, 0, 100, 1, 50.0, True, False, False, False, "control"),  # pre-period
        (0, 0, 1, 1, 100.0, True, True, False, False, "control"),
        (0, 0, 1, 2, 30.0, False, False, False, True, "control"),
        (1, 0, 2, 3, 200.0, True, False, True, False, "control"),
        (1, 1, 3, 1, 10.0, False, False, False, False, "treatment"),
        (5, 1, 4, 1, 10.0, False, False, False, False, "treatment"),  # after the window
        (2, 3, 5, 4, 60.0, True, True, False, False, "treatment"),
    ]
)
USERS = pd.DataFrame(
    {
        "user_id": [0, 1, 2, 3, 4],
        "arm": ["control", "treatment", "control", "treatment", "control"],
        "registration_day": [-30, -5, -40, 1, 10],
        "cohort": ["old", "old", "old", "new", "new"],
    }
)
WINDOW = MetricsWindow(start_day=0, end_day=3, pre_start_day=-3, new_user_days=2)


def test_counts_by_hand() -> None:
    t = user_metrics(EVENTS, USERS, WINDOW).set_index("user_id")
    assert list(t.index) == [0, 1, 2, 3]  # user 4 registers after the window: not exposed
    assert t.loc[0, "active_days"] == 2
    assert t.loc[0, "duration"] == 330.0
    assert t.loc[0, "sessions"] == 2
    assert t.loc[0, "impressions"] == 3
    assert t.loc[0, "finishes"] == 2
    assert (t.loc[0, "likes"], t.loc[0, "comments"], t.loc[0, "dislikes"]) == (1, 1, 1)
    assert t.loc[1, "impressions"] == 1  # the day-5 event is outside the window
    assert t.loc[3, "duration"] == 60.0


def test_assigned_but_inactive_users_count_with_zeros() -> None:
    t = user_metrics(EVENTS, USERS, WINDOW).set_index("user_id")
    inactive = t.loc[2, ["active_days", "duration", "sessions", "impressions"]]
    assert np.asarray(inactive, dtype=float).tolist() == [0.0, 0.0, 0.0, 0.0]
    assert t.loc[2, "arm"] == "control"


def test_pre_period_and_cohorts() -> None:
    t = user_metrics(EVENTS, USERS, WINDOW).set_index("user_id")
    assert t.loc[0, "pre_duration"] == 50.0
    assert t.loc[0, "pre_active_days"] == 1
    assert t["has_pre"].tolist() == [True, True, True, False]
    # new = registered on/after start_day - new_user_days = -2
    assert t["cohort"].tolist() == ["old", "old", "old", "new"]
    assert t["cohort_given"].tolist() == ["old", "old", "old", "new"]


def test_daily_table_sums_to_window_totals() -> None:
    d = daily_user_metrics(EVENTS, USERS, WINDOW)
    t = user_metrics(EVENTS, USERS, WINDOW)
    for col in ("active_days", "duration", "impressions", "finishes"):
        np.testing.assert_allclose(d.cumulative(col)[:, -1], t[col].to_numpy())


def test_infer_window() -> None:
    w = infer_window(EVENTS, USERS)
    assert (w.start_day, w.end_day, w.pre_start_day, w.pre_end_day) == (1, 6, -2, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_day": 3, "end_day": 3}, "end_day == 3, must be > start_day"),
        ({"start_day": 0, "end_day": 3, "new_user_days": -1}, "new_user_days == -1"),
        ({"start_day": 0, "end_day": 3, "pre_start_day": 0}, "pre_start_day == 0"),
        ({"start_day": 0, "end_day": 3, "pre_start_day": -3, "pre_end_day": 2}, "pre_end_day == 2"),
    ],
)
def test_window_validation(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        MetricsWindow(**kwargs)


@pytest.mark.parametrize(
    ("events", "users", "exc", "match"),
    [
        (
            EVENTS.drop(columns=["listen_seconds"]),
            USERS,
            SchemaError,
            "missing columns \\['listen_seconds'\\]",
        ),
        (EVENTS, USERS.drop(columns=["arm"]), SchemaError, "users is missing columns \\['arm'\\]"),
        (EVENTS.assign(listen_seconds=[np.nan] + [1.0] * 6), USERS, AnalysisError, "1 NaN"),
        (EVENTS, USERS.iloc[1:], AnalysisError, "not in users"),
        (EVENTS, pd.concat([USERS, USERS.iloc[:1]]), AnalysisError, "more than once"),
        (EVENTS, USERS.iloc[:0], AnalysisError, "users is empty"),
    ],
)
def test_bad_input(
    events: pd.DataFrame, users: pd.DataFrame, exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        user_metrics(events, users, WINDOW)


def test_infer_window_needs_a_treated_event() -> None:
    with pytest.raises(AnalysisError, match="no event has arm != 'control'"):
        infer_window(EVENTS.assign(arm="control"), USERS)
