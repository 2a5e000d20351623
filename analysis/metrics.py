"""Event log -> one row per assigned user for an analysis window (and the days in it).

The denominator of an A/B comparison is the set of **assigned** users (``users``), not the
users who happened to be active: a user who was assigned but never came back counts with
zeros. Dropping such users would bias active days (and every count) upwards, and
differently in each arm if the treatment changes who returns.

Per-user columns for the window ``[start_day, end_day)``:

* ``active_days``: distinct days with at least one impression;
* ``duration``: sum of ``listen_seconds``; ``sessions``: distinct ``session_id``;
* ``impressions``: rows; ``finishes``, ``likes``, ``comments``, ``dislikes``: sums of flags;
* ``pre_<column>``: the same count over the pre-period ``[pre_start_day, pre_end_day)``,
  the CUPED covariate; ``has_pre``: registered before ``pre_end_day`` (else the covariate
  is 0 by construction and CUPED uses the indicator, see ``analysis.cuped``);
* ``cohort``: ``"new"`` if registered on or after ``start_day - new_user_days`` (so users
  who arrive during the window are new), else ``"old"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.errors import AnalysisError, SchemaError
from analysis.schema import (
    COUNT_COLUMNS,
    HAS_PRE_COLUMN,
    PRE_PREFIX,
    REQUIRED_EVENT_COLUMNS,
    REQUIRED_USER_COLUMNS,
    check_columns,
    check_finite,
)
from analysis.tables import load_events


@dataclass(frozen=True)
class MetricsWindow:
    """The days a per-user table covers.

    Attributes:
        start_day: First day of the analysis window (inclusive).
        end_day: Day after the last day of the window (exclusive).
        pre_start_day: First day of the pre-period for covariates; ``None`` for none.
        pre_end_day: Day after the pre-period's last day; defaults to ``start_day``.
        new_user_days: Users registered within this many days before ``start_day`` (or
            during the window) are in the ``"new"`` cohort.
    """

    start_day: int
    end_day: int
    pre_start_day: int | None = None
    pre_end_day: int | None = None
    new_user_days: int = 7

    def __post_init__(self) -> None:
        if self.end_day <= self.start_day:
            raise AnalysisError(
                f"end_day == {self.end_day}, must be > start_day == {self.start_day}"
            )
        if self.new_user_days < 0:
            raise AnalysisError(f"new_user_days == {self.new_user_days}, must be >= 0")
        if self.pre_start_day is not None and self.pre_start_day >= self.pre_end:
            raise AnalysisError(
                f"pre_start_day == {self.pre_start_day}, must be < pre_end_day == {self.pre_end}"
            )
        if self.pre_end > self.start_day:
            raise AnalysisError(
                f"pre_end_day == {self.pre_end}, must be <= start_day == {self.start_day} "
                "(a covariate must not see the treatment)"
            )

    @property
    def pre_end(self) -> int:
        """``pre_end_day`` or, if unset, ``start_day``."""
        return self.start_day if self.pre_end_day is None else self.pre_end_day

    @property
    def n_days(self) -> int:
        """Days in the window."""
        return self.end_day - self.start_day


def _user_index(
    events: pd.DataFrame, users: pd.DataFrame
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """Row of each event's user in ``users`` (sorted by id), and the sorted user ids."""
    uid = users["user_id"].to_numpy(dtype=np.int64)
    order = np.argsort(uid, kind="stable")
    sorted_uid = uid[order]
    if np.any(sorted_uid[1:] == sorted_uid[:-1]):
        dup = sorted_uid[1:][sorted_uid[1:] == sorted_uid[:-1]][0]
        raise AnalysisError(f"users has user_id {int(dup)} more than once; must be unique")
    ev_uid = events["user_id"].to_numpy(dtype=np.int64)
    pos = np.searchsorted(sorted_uid, ev_uid)
    pos_c = np.minimum(pos, max(len(sorted_uid) - 1, 0))
    known = (pos < len(sorted_uid)) & (sorted_uid[pos_c] == ev_uid) if len(sorted_uid) else pos < 0
    if not np.all(known):
        bad = ev_uid[~known][0]
        raise AnalysisError(
            f"events has {int((~known).sum())} rows whose user_id (e.g. {int(bad)}) is not in "
            "users; the event log and users table must come from the same run"
        )
    return order[pos_c], uid


def _counts(ev: pd.DataFrame, rows: NDArray[np.intp], n: int) -> dict[str, NDArray[np.float64]]:
    """The eight per-user counts of the events ``ev`` whose users are at ``rows``."""
    day = ev["day"].to_numpy(dtype=np.int64)
    session = ev["session_id"].to_numpy(dtype=np.int64)
    out: dict[str, NDArray[np.float64]] = {}
    if len(rows):
        span = int(day.max() - day.min() + 1)
        user_day = np.unique(rows.astype(np.int64) * span + (day - day.min()))
        out["active_days"] = np.bincount(user_day // span, minlength=n).astype(np.float64)
        # A session belongs to one user; count each session id once, at its first row.
        _, first = np.unique(session, return_index=True)
        out["sessions"] = np.bincount(rows[first], minlength=n).astype(np.float64)
    else:
        out["active_days"] = np.zeros(n)
        out["sessions"] = np.zeros(n)
    out["impressions"] = np.bincount(rows, minlength=n).astype(np.float64)
    for col, name in (
        ("listen_seconds", "duration"),
        ("finish", "finishes"),
        ("like", "likes"),
        ("comment", "comments"),
        ("dislike", "dislikes"),
    ):
        weights = ev[col].to_numpy(np.float64)
        out[name] = np.bincount(rows, weights, minlength=n).astype(np.float64)
    return {c: out[c] for c in COUNT_COLUMNS}


def _prepare(events: pd.DataFrame, users: pd.DataFrame) -> NDArray[np.intp]:
    check_columns(events, REQUIRED_EVENT_COLUMNS, "events")
    check_columns(users, REQUIRED_USER_COLUMNS, "users")
    check_finite(events, ("listen_seconds", "day"), "events")
    check_finite(users, ("registration_day",), "users")
    if len(users) == 0:
        raise AnalysisError("users is empty; need the assigned users (users.parquet)")
    rows, _ = _user_index(events, users)
    return rows


def user_metrics(events: pd.DataFrame, users: pd.DataFrame, window: MetricsWindow) -> pd.DataFrame:
    """One row per assigned user with window counts, pre-period covariates and cohort.

    Args:
        events: Event log with at least :data:`analysis.schema.REQUIRED_EVENT_COLUMNS`.
        users: One row per assigned user with ``user_id``, ``arm``, ``registration_day``;
            extra columns (features, a given ``cohort``) are kept, a given ``cohort`` as
            ``cohort_given``.
        window: The analysis window and pre-period.

    Returns:
        A DataFrame in the row order of ``users`` with the columns described in the module
        docstring. Users registered after the window ends are dropped (not yet exposed).

    Raises:
        SchemaError: A required column is missing.
        AnalysisError: NaN values, duplicate users, or events of unknown users.
    """
    rows = _prepare(events, users)
    n = len(users)
    day = events["day"].to_numpy(dtype=np.int64)
    table = users.copy()
    if "cohort" in table.columns:
        table = table.rename(columns={"cohort": "cohort_given"})
    reg = table["registration_day"].to_numpy(dtype=np.int64)

    in_window = (day >= window.start_day) & (day < window.end_day)
    counts = _counts(events.loc[in_window], rows[in_window], n)
    for col, values in counts.items():
        table[col] = values
    if window.pre_start_day is not None:
        in_pre = (day >= window.pre_start_day) & (day < window.pre_end)
        pre = _counts(events.loc[in_pre], rows[in_pre], n)
        for col, values in pre.items():
            table[PRE_PREFIX + col] = values
        table[HAS_PRE_COLUMN] = reg < window.pre_end
    table["cohort"] = np.where(reg >= window.start_day - window.new_user_days, "new", "old")
    keep = reg < window.end_day
    return table.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class DailyTable:
    """Per-user, per-day counts over a window, for cumulative (sequential) monitoring.

    Attributes:
        users: The user table (``user_id``, ``arm``, ``registration_day``, ``cohort``, ...)
            whose row order the arrays follow.
        days: The window's days, shape ``(n_days,)``.
        values: Count name -> ``(n_users, n_days)`` array of that day's count.
    """

    users: pd.DataFrame
    days: NDArray[np.int64]
    values: dict[str, NDArray[np.float64]]

    def cumulative(self, column: str) -> NDArray[np.float64]:
        """Cumulative counts through each day, ``(n_users, n_days)``."""
        if column not in self.values:
            raise AnalysisError(f"column {column!r} is unknown; known: {sorted(self.values)}")
        return np.cumsum(self.values[column], axis=1)


def daily_user_metrics(
    events: pd.DataFrame,
    users: pd.DataFrame,
    window: MetricsWindow,
    columns: tuple[str, ...] = COUNT_COLUMNS,
) -> DailyTable:
    """Per-user counts for each day of the window (assigned users, zeros when inactive).

    Memory is ``n_users x n_days x len(columns)`` floats; pass fewer columns for big runs.

    Args:
        events: The event log.
        users: The assigned users.
        window: The analysis window (its pre-period is ignored here).
        columns: Which of :data:`analysis.schema.COUNT_COLUMNS` to compute.

    Returns:
        The daily table; users registered after the window are dropped.
    """
    unknown = [c for c in columns if c not in COUNT_COLUMNS]
    if unknown:
        raise AnalysisError(f"columns {unknown} are unknown; known: {list(COUNT_COLUMNS)}")
    rows = _prepare(events, users)
    n = len(users)
    day = events["day"].to_numpy(dtype=np.int64)
    days = np.arange(window.start_day, window.end_day, dtype=np.int64)
    values = {c: np.zeros((n, len(days))) for c in columns}
    for j, d in enumerate(days):
        sel = day == d
        counts = _counts(events.loc[sel], rows[sel], n)
        for c in columns:
            values[c][:, j] = counts[c]
    table = users.copy()
    if "cohort" in table.columns:
        table = table.rename(columns={"cohort": "cohort_given"})
    reg = table["registration_day"].to_numpy(dtype=np.int64)
    table["cohort"] = np.where(reg >= window.start_day - window.new_user_days, "new", "old")
    keep = reg < window.end_day
    return DailyTable(
        users=table.loc[keep].reset_index(drop=True),
        days=days,
        values={c: v[keep] for c, v in values.items()},
    )


def infer_window(
    events: pd.DataFrame,
    users: pd.DataFrame,
    *,
    control: str = "control",
    new_user_days: int = 7,
) -> MetricsWindow:
    """Infer the analysis window from a log whose pre-period serves everyone on control.

    The experiment starts on the first day an event is served by a non-control arm; the
    pre-period is every earlier day; the window ends after the last day in the log.

    Raises:
        SchemaError: ``events`` has no ``arm`` column.
        AnalysisError: No event is served by a non-control arm.
    """
    if "arm" not in events.columns:
        raise SchemaError("events has no 'arm' column; pass a MetricsWindow explicitly")
    day = events["day"].to_numpy(dtype=np.int64)
    treated = events["arm"].astype(str).to_numpy() != control
    if not treated.any():
        raise AnalysisError(
            f"no event has arm != {control!r}; cannot infer when the experiment started "
            "(pass a MetricsWindow explicitly)"
        )
    start = int(day[treated].min())
    first = int(day.min())
    return MetricsWindow(
        start_day=start,
        end_day=int(day.max()) + 1,
        pre_start_day=first if first < start else None,
        pre_end_day=start if first < start else None,
        new_user_days=new_user_days,
    )


__all__ = [
    "DailyTable",
    "MetricsWindow",
    "daily_user_metrics",
    "infer_window",
    "load_events",
    "user_metrics",
]
