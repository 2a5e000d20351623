"""Exposure diagnostics of an event log: what each arm showed, day by day.

The A/B lifts say whether users listened more; these say what the catalogue went through
to get there, so a lift bought by narrowing the catalogue, or by hiding new songs, shows.
Per arm and day, over the catalogue released by that day (an item released on day ``d``
is servable from the start of day ``d``):

* **coverage**: distinct items shown, and its share of the released catalogue;
* **Gini** of exposure over the released catalogue, with items not shown counted as zero
  exposure (:func:`analysis.bias.gini`: 0 uniform, towards 1 one item), so an arm that
  shows few items is concentrated however evenly it spreads its impressions over them;
* **new-item share**: share of impressions on items released fewer than
  ``new_item_days`` days before the impression's day (the world's config has no notion
  of a new item; 7 days mirrors its cohort rule for new users, ``users.new_user_days``);
* **tail share**: share of impressions on items outside the head, the ``head_share``
  most exposed items before the experiment (:func:`head_items`; the share of
  :mod:`adasim.jobs.ope_run`'s head/tail split); items released after that period have
  no exposure in it, so new items are tail;
* **dislikes per 1,000 impressions**, split by the probability the serving policy chose
  the shown item with: **exploration** when ``pscore < exploration_pscore``, otherwise
  **exploitation**. The rule reads only the logged ``pscore``, no agent internals: 0.1 is
  the probability of a uniform pick among 10 candidates (the quick arms'; the default
  arm retrieves 20), so a pick below it is one the policy did not favour over a coin
  among its shortlist, an exploratory one.

:func:`arm_exposure` sums the same over the experiment's days per arm.
:mod:`adasim.jobs.run_analysis` adds both to every run's report, with the twin worlds'
logs as arms of their own (``twin:control``, ``twin:treatment``): coverage with everyone
on one agent, beside the A/B arms' coverage on their share of the traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.bias import gini
from analysis.errors import AnalysisError
from analysis.results import ResultCollection
from analysis.schema import check_columns

HEAD_SHARE = 0.2
"""Items in the top 20% of pre-experiment exposure are the head; the rest (and new items)
the tail (:mod:`adasim.jobs.ope_run` splits its estimates by the same rule)."""

NEW_ITEM_DAYS = 7
"""An item is new on the 7 days from its release day (the new-user cohort rule's span)."""

EXPLORATION_PSCORE = 0.1
"""A pick with ``pscore`` below 0.1 is exploration: below a uniform pick among 10."""

EXPOSURE_COLUMNS: tuple[str, ...] = ("day", "item_id", "arm", "pscore", "dislike")
"""Event columns the diagnostics read."""


@dataclass(frozen=True)
class ExposureConfig:
    """The days and rules of the exposure diagnostics.

    Attributes:
        start_day: First day reported (the experiment's first day, ``pre_days``).
        end_day: Day after the last one reported.
        new_item_days: An item is new on days ``release_day .. release_day +
            new_item_days - 1``.
        exploration_pscore: A pick with ``pscore`` below this is exploration.
    """

    start_day: int
    end_day: int
    new_item_days: int = NEW_ITEM_DAYS
    exploration_pscore: float = EXPLORATION_PSCORE

    def __post_init__(self) -> None:
        if self.end_day <= self.start_day:
            raise AnalysisError(
                f"end_day == {self.end_day}, must be > start_day ({self.start_day})"
            )
        if self.new_item_days < 1:
            raise AnalysisError(f"new_item_days == {self.new_item_days}, must be >= 1")
        if not 0 < self.exploration_pscore <= 1:
            raise AnalysisError(
                f"exploration_pscore == {self.exploration_pscore!r}, must be in (0, 1]"
            )


@dataclass(frozen=True)
class DailyExposure:
    """What one arm showed on one day.

    Attributes:
        arm: Serving arm (or a twin world, ``twin:<variant>``).
        day: Simulation day.
        n_impressions: Impressions of the arm that day (0: every share and rate is NaN).
        coverage: Distinct items shown.
        n_items: Catalogue released by the day (``release_day <= day``).
        coverage_share: ``coverage / n_items``.
        gini: Gini of the day's exposure over the released catalogue (items not shown
            count as 0); NaN without impressions.
        new_item_share: Share of impressions on new items.
        tail_share: Share of impressions on items outside the head.
        n_exploration: Impressions with ``pscore < exploration_pscore``.
        n_dislikes_exploration: Dislikes among them.
        dislikes_per_1000_exploration: ``1000 * n_dislikes_exploration / n_exploration``.
        n_exploitation: The other impressions.
        n_dislikes_exploitation: Dislikes among them.
        dislikes_per_1000_exploitation: ``1000 * n_dislikes_exploitation /
            n_exploitation``.
    """

    arm: str
    day: int
    n_impressions: int
    coverage: int
    n_items: int
    coverage_share: float
    gini: float
    new_item_share: float
    tail_share: float
    n_exploration: int
    n_dislikes_exploration: int
    dislikes_per_1000_exploration: float
    n_exploitation: int
    n_dislikes_exploitation: int
    dislikes_per_1000_exploitation: float


@dataclass(frozen=True)
class ArmExposure:
    """What one arm showed over the reported days.

    Attributes:
        arm: Serving arm (or a twin world, ``twin:<variant>``).
        n_days: Days reported.
        n_impressions: Impressions over them.
        mean_coverage: Mean of the daily coverage (a day without impressions counts 0).
        min_coverage: Smallest daily coverage.
        mean_coverage_share: Mean of the daily coverage shares.
        coverage: Distinct items shown over the days.
        n_items: Catalogue released by the last day.
        gini: Gini of the days' pooled exposure over the catalogue released by the last
            day (items not shown count as 0).
        new_item_share: Share of the impressions on items new on their day.
        tail_share: Share of the impressions on items outside the head.
        n_exploration: Exploration impressions (``pscore < exploration_pscore``).
        n_dislikes_exploration: Dislikes among them.
        dislikes_per_1000_exploration: Per 1,000 exploration impressions.
        n_exploitation: The other impressions.
        n_dislikes_exploitation: Dislikes among them.
        dislikes_per_1000_exploitation: Per 1,000 exploitation impressions.
    """

    arm: str
    n_days: int
    n_impressions: int
    mean_coverage: float
    min_coverage: int
    mean_coverage_share: float
    coverage: int
    n_items: int
    gini: float
    new_item_share: float
    tail_share: float
    n_exploration: int
    n_dislikes_exploration: int
    dislikes_per_1000_exploration: float
    n_exploitation: int
    n_dislikes_exploitation: int
    dislikes_per_1000_exploitation: float


def head_items(events: pd.DataFrame, head_share: float = HEAD_SHARE) -> NDArray[np.int64]:
    """The head: the ``ceil(head_share * n)`` most shown of the ``n`` items ``events`` shows.

    Pass the impressions before the experiment (the pre-period, or the history when the
    run has none). Ties go to the smaller item id, so the head is a function of the log.

    Example:
        >>> log = pd.DataFrame({"item_id": [3, 3, 3, 1, 1, 2, 4, 5, 6]})
        >>> head_items(log, 0.2).tolist()  # 6 items shown: ceil(1.2) = 2
        [3, 1]
    """
    check_columns(events, ["item_id"], "events")
    if not 0 < head_share < 1:
        raise AnalysisError(f"head_share == {head_share!r}, must be in (0, 1)")
    counts = events["item_id"].value_counts()
    if counts.empty:
        return np.empty(0, dtype=np.int64)
    ranked = counts.rename_axis("item_id").reset_index(name="n")
    ranked = ranked.sort_values(["n", "item_id"], ascending=[False, True], kind="stable")
    n_head = max(1, math.ceil(head_share * len(ranked)))
    return ranked["item_id"].to_numpy(dtype=np.int64)[:n_head]


def release_days(items: pd.DataFrame) -> NDArray[np.int64]:
    """``(n_items,)`` release day of each item id, from ``items.parquet``'s columns.

    Example:
        >>> release_days(pd.DataFrame({"item_id": [1, 0], "release_day": [3, -365]})).tolist()
        [-365, 3]
    """
    check_columns(items, ["item_id", "release_day"], "items")
    ordered = items.sort_values("item_id", kind="stable")
    ids = ordered["item_id"].to_numpy(dtype=np.int64)
    if not np.array_equal(ids, np.arange(len(ids))):
        raise AnalysisError(
            f"items item_id must be 0 .. {len(ids) - 1}, each once (the catalogue's ids)"
        )
    return ordered["release_day"].to_numpy(dtype=np.int64)


def daily_exposure(
    events: pd.DataFrame,
    release_day: ArrayLike,
    head: ArrayLike,
    config: ExposureConfig,
) -> ResultCollection[DailyExposure]:
    """Coverage, Gini, new and tail shares and dislike rates per arm and day.

    Every arm in ``events`` gets a row for every day of the config, with zeros and NaN on
    a day it showed nothing.

    Args:
        events: Impressions (``day``, ``item_id``, ``arm``, ``pscore``, ``dislike``);
            those outside the config's days are ignored.
        release_day: ``(n_items,)`` release day of each item id (``items.parquet``).
        head: Item ids of the head (:func:`head_items`).
        config: Days and rules.

    Returns:
        One record per arm (sorted by name) and day.

    Raises:
        AnalysisError: An item id outside the catalogue, or shown before its release day.
    """
    return exposure_tables(events, release_day, head, config)[1]


def arm_exposure(
    events: pd.DataFrame,
    release_day: ArrayLike,
    head: ArrayLike,
    config: ExposureConfig,
) -> ResultCollection[ArmExposure]:
    """The diagnostics of :func:`daily_exposure` over the config's days, per arm.

    Args:
        events: Impressions, as for :func:`daily_exposure`.
        release_day: ``(n_items,)`` release day of each item id.
        head: Item ids of the head (:func:`head_items`).
        config: Days and rules.

    Returns:
        One record per arm, sorted by name.

    Raises:
        AnalysisError: An item id outside the catalogue, or shown before its release day.
    """
    return exposure_tables(events, release_day, head, config)[0]


def exposure_tables(
    events: pd.DataFrame,
    release_day: ArrayLike,
    head: ArrayLike,
    config: ExposureConfig,
) -> tuple[ResultCollection[ArmExposure], ResultCollection[DailyExposure]]:
    """:func:`arm_exposure` and :func:`daily_exposure` from one pass over ``events``.

    The report needs both; the per-arm figures are built from the same day records.
    """
    arms, tables = _arm_tables(events, release_day, head, config)
    last = config.end_day - 1
    records = []
    daily: list[DailyExposure] = []
    for arm in arms:
        days = [_day_record(arm, day, tables) for day in _days(config)]
        daily += days
        ev = tables.events[tables.events["arm"] == arm]
        exposure = np.bincount(ev["item_id"].to_numpy(), minlength=tables.release_day.size)
        exposure = exposure[tables.release_day <= last]
        split = _DislikeSplit.of(ev, config.exploration_pscore)
        records.append(
            ArmExposure(
                arm=arm,
                n_days=len(days),
                n_impressions=len(ev),
                mean_coverage=float(np.mean([d.coverage for d in days])),
                min_coverage=min(d.coverage for d in days),
                mean_coverage_share=float(np.mean([d.coverage_share for d in days])),
                coverage=int(np.count_nonzero(exposure)),
                n_items=tables.n_items(last),
                gini=gini(exposure) if len(ev) else math.nan,
                new_item_share=_share(ev["new"]),
                tail_share=_share(~ev["head"]),
                n_exploration=split.n_exploration,
                n_dislikes_exploration=split.n_dislikes_exploration,
                dislikes_per_1000_exploration=split.per_1000_exploration,
                n_exploitation=split.n_exploitation,
                n_dislikes_exploitation=split.n_dislikes_exploitation,
                dislikes_per_1000_exploitation=split.per_1000_exploitation,
            )
        )
    return (
        ResultCollection(records, "Exposure by arm"),
        ResultCollection(daily, "Exposure by arm and day"),
    )


@dataclass(frozen=True)
class _Tables:
    """The events of the config's days with their item flags, by arm and day."""

    events: pd.DataFrame
    by_day: dict[tuple[str, int], pd.DataFrame]
    release_day: NDArray[np.int64]
    config: ExposureConfig

    def n_items(self, day: int) -> int:
        return int(np.count_nonzero(self.release_day <= day))

    def on(self, arm: str, day: int) -> pd.DataFrame:
        return self.by_day.get((arm, day), self.events.iloc[:0])


def _days(config: ExposureConfig) -> range:
    return range(config.start_day, config.end_day)


def _arm_tables(
    events: pd.DataFrame, release_day: ArrayLike, head: ArrayLike, config: ExposureConfig
) -> tuple[list[str], _Tables]:
    check_columns(events, EXPOSURE_COLUMNS, "events")
    release = np.asarray(release_day, dtype=np.int64)
    day = events["day"].to_numpy(dtype=np.int64)
    ev = events.loc[(day >= config.start_day) & (day < config.end_day), list(EXPOSURE_COLUMNS)]
    ev = ev.assign(arm=ev["arm"].astype(str), day=ev["day"].astype(np.int64))
    item = ev["item_id"].to_numpy(dtype=np.int64)
    bad = (item < 0) | (item >= release.size)
    if bad.any():
        raise AnalysisError(
            f"item_id {int(item[bad][0])} is outside the catalogue of {release.size} items "
            "(release_day); are events and items from the same run?"
        )
    age = ev["day"].to_numpy() - release[item]
    if (age < 0).any():
        first = int(np.flatnonzero(age < 0)[0])
        raise AnalysisError(
            f"item_id {int(item[first])} is shown on day {int(ev['day'].iloc[first])}, "
            f"before its release_day {int(release[item[first]])}"
        )
    if ev["pscore"].isna().any():
        raise AnalysisError("pscore has missing values; the exploration split needs every pick's")
    ev = ev.assign(
        new=age < config.new_item_days,
        head=np.isin(item, np.asarray(head, dtype=np.int64)),
        dislike=ev["dislike"].astype(bool),
    )
    by_day = {
        cast(tuple[str, int], key): group for key, group in ev.groupby(["arm", "day"], sort=False)
    }
    arms = sorted(set(events["arm"].astype(str)))
    return arms, _Tables(ev, by_day, release, config)


def _day_record(arm: str, day: int, tables: _Tables) -> DailyExposure:
    ev = tables.on(arm, day)
    n_items = tables.n_items(day)
    released = np.flatnonzero(tables.release_day <= day)
    exposure = np.bincount(ev["item_id"].to_numpy(), minlength=tables.release_day.size)
    coverage = int(np.count_nonzero(exposure))
    split = _DislikeSplit.of(ev, tables.config.exploration_pscore)
    return DailyExposure(
        arm=arm,
        day=day,
        n_impressions=len(ev),
        coverage=coverage,
        n_items=n_items,
        coverage_share=coverage / n_items if n_items else math.nan,
        gini=gini(exposure[released]) if len(ev) else math.nan,
        new_item_share=_share(ev["new"]),
        tail_share=_share(~ev["head"]),
        n_exploration=split.n_exploration,
        n_dislikes_exploration=split.n_dislikes_exploration,
        dislikes_per_1000_exploration=split.per_1000_exploration,
        n_exploitation=split.n_exploitation,
        n_dislikes_exploitation=split.n_dislikes_exploitation,
        dislikes_per_1000_exploitation=split.per_1000_exploitation,
    )


def _share(flags: pd.Series) -> float:
    return float(flags.mean()) if len(flags) else math.nan


@dataclass(frozen=True)
class _DislikeSplit:
    """Impressions, dislikes and dislikes per 1,000 on each side of the pscore rule."""

    n_exploration: int
    n_dislikes_exploration: int
    n_exploitation: int
    n_dislikes_exploitation: int

    @classmethod
    def of(cls, ev: pd.DataFrame, exploration_pscore: float) -> _DislikeSplit:
        explore = ev["pscore"].to_numpy(dtype=np.float64) < exploration_pscore
        dislike = ev["dislike"].to_numpy(dtype=bool)
        return cls(
            n_exploration=int(explore.sum()),
            n_dislikes_exploration=int(dislike[explore].sum()),
            n_exploitation=int((~explore).sum()),
            n_dislikes_exploitation=int(dislike[~explore].sum()),
        )

    @property
    def per_1000_exploration(self) -> float:
        return _per_1000(self.n_dislikes_exploration, self.n_exploration)

    @property
    def per_1000_exploitation(self) -> float:
        return _per_1000(self.n_dislikes_exploitation, self.n_exploitation)


def _per_1000(n_dislikes: int, n: int) -> float:
    return 1000 * n_dislikes / n if n else math.nan


__all__ = [
    "EXPLORATION_PSCORE",
    "EXPOSURE_COLUMNS",
    "HEAD_SHARE",
    "NEW_ITEM_DAYS",
    "ArmExposure",
    "DailyExposure",
    "ExposureConfig",
    "arm_exposure",
    "daily_exposure",
    "exposure_tables",
    "head_items",
    "release_days",
]
