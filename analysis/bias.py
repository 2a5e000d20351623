"""Popularity bias of what each arm served: exposure concentration, coverage, head/tail.

Per arm and cohort, over the impressions of the analysis window:

* **Gini** of item exposure over the whole catalogue (items never shown count as 0):
  with counts sorted ascending ``c_1 <= .. <= c_n``,
  ``G = 2 sum_i i c_i / (n sum_i c_i) - (n + 1) / n`` (0: uniform, -> 1: one item);
* **catalogue coverage**: share of catalogue items shown at least once;
* **head share**: share of impressions that went to the head, the ``head_fraction`` most
  popular items by a reference popularity common to both arms (default: all arms'
  impressions in the window pooled); **tail share** ``= 1 - head share``;
* **average recommendation popularity** (ARP, Abdollahpouri et al. 2019): mean reference
  popularity of the served items; **popularity lift** is ``ARP_arm / ARP_control - 1``
  within the cohort (positive: the arm pushes more popular items than control).

References:
    Abdollahpouri, H., Mansoury, M., Burke, R., Mobasher, B. (2019). The Unfairness of
    Popularity Bias in Recommendation. RMSE workshop, RecSys 2019.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.errors import AnalysisError
from analysis.results import ResultCollection
from analysis.schema import check_columns


@dataclass(frozen=True)
class BiasResult:
    """Exposure statistics of one arm within one cohort.

    Attributes:
        arm: Serving arm.
        cohort: ``"all"``, ``"new"`` or ``"old"``.
        n_impressions: Impressions counted.
        n_items_shown: Distinct items shown.
        n_items: Catalogue size.
        coverage: ``n_items_shown / n_items``.
        gini: Gini coefficient of exposure over the catalogue.
        head_share: Share of impressions on the head items.
        tail_share: ``1 - head_share``.
        mean_popularity: Average reference popularity (impressions) of served items (ARP).
        popularity_lift: ``mean_popularity / mean_popularity(control) - 1`` in the cohort.
        head_fraction: Share of the catalogue that forms the head.
    """

    arm: str
    cohort: str
    n_impressions: int
    n_items_shown: int
    n_items: int
    coverage: float
    gini: float
    head_share: float
    tail_share: float
    mean_popularity: float
    popularity_lift: float
    head_fraction: float


def gini(counts: ArrayLike) -> float:
    """Gini coefficient of non-negative counts (0 for equal counts or no counts).

    Example:
        >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
        (0.0, 0.75)
    """
    c = np.sort(np.asarray(counts, dtype=np.float64))
    if c.size == 0:
        raise AnalysisError("counts is empty; need at least one item")
    if np.any(c < 0):
        raise AnalysisError("counts must be >= 0")
    total = c.sum()
    if total == 0:
        return 0.0
    n = c.size
    return float(2 * np.sum(np.arange(1, n + 1) * c) / (n * total) - (n + 1) / n)


def item_exposure(
    events: pd.DataFrame, n_items: int | None = None, by: str = "arm"
) -> dict[str, NDArray[np.int64]]:
    """Impressions per item (index = item id) for each value of ``by``.

    Args:
        events: Events with ``item_id`` and ``by``.
        n_items: Catalogue size; ``None``: ``max(item_id) + 1``.
        by: Grouping column.

    Returns:
        Value of ``by`` -> ``(n_items,)`` counts.
    """
    check_columns(events, ["item_id", by], "events")
    item = events["item_id"].to_numpy(dtype=np.int64)
    size = _catalogue(item, n_items)
    keys = events[by].astype(str).to_numpy()
    return {
        str(k): np.bincount(item[keys == k], minlength=size).astype(np.int64)
        for k in sorted(set(keys.tolist()))
    }


def _catalogue(item: NDArray[np.int64], n_items: int | None) -> int:
    if item.size and item.min() < 0:
        raise AnalysisError(f"item_id has negative value {int(item.min())}")
    top = int(item.max()) + 1 if item.size else 0
    if n_items is None:
        if top == 0:
            raise AnalysisError("events is empty and n_items is None: catalogue size unknown")
        return top
    if n_items < top:
        raise AnalysisError(f"n_items == {n_items}, but events show item id {top - 1}")
    return n_items


def exposure_bias(
    events: pd.DataFrame,
    users: pd.DataFrame | None = None,
    *,
    n_items: int | None = None,
    head_fraction: float = 0.2,
    reference_counts: ArrayLike | None = None,
    control: str = "control",
) -> ResultCollection[BiasResult]:
    """Exposure Gini, coverage, head/tail share and popularity lift per arm and cohort.

    Args:
        events: Impressions of the analysis window (``item_id``, ``arm``, ``user_id``).
        users: Table with ``user_id`` and ``cohort`` for per-cohort rows; ``None``: only
            ``"all"``.
        n_items: Catalogue size (``None``: ``max(item_id) + 1``).
        head_fraction: Share of the catalogue, by reference popularity, that is the head.
        reference_counts: ``(n_items,)`` reference popularity; ``None``: all arms pooled.
        control: Arm against which popularity lift is measured.

    Returns:
        One record per arm and cohort (``"all"`` first).
    """
    check_columns(events, ["item_id", "arm"], "events")
    if not 0 < head_fraction < 1:
        raise AnalysisError(f"head_fraction == {head_fraction!r}, must be in (0, 1)")
    item = events["item_id"].to_numpy(dtype=np.int64)
    size = _catalogue(item, n_items)
    ref = (
        np.bincount(item, minlength=size).astype(np.float64)
        if reference_counts is None
        else np.asarray(reference_counts, dtype=np.float64)
    )
    if ref.shape != (size,):
        raise AnalysisError(f"reference_counts has shape {ref.shape}, must be ({size},)")
    n_head = max(1, round(head_fraction * size))
    head = np.zeros(size, dtype=bool)
    head[np.argsort(-ref, kind="stable")[:n_head]] = True
    arm = events["arm"].astype(str).to_numpy()
    cohorts: list[tuple[str, NDArray[np.bool_]]] = [("all", np.ones(len(events), dtype=bool))]
    if users is not None:
        check_columns(users, ["user_id", "cohort"], "users")
        lookup = pd.Series(users["cohort"].astype(str).to_numpy(), index=users["user_id"])
        ev_cohort = lookup.reindex(events["user_id"].to_numpy()).to_numpy()
        for c in ("new", "old"):
            cohorts.append((c, ev_cohort == c))
    records: list[BiasResult] = []
    for cohort, cmask in cohorts:
        rows: list[BiasResult] = []
        arp_control = float("nan")
        for a in sorted(set(arm.tolist())):
            sel = cmask & (arm == a)
            if not sel.any():
                continue
            counts = np.bincount(item[sel], minlength=size)
            total = int(counts.sum())
            arp = float(ref[item[sel]].mean())
            if a == control:
                arp_control = arp
            rows.append(
                BiasResult(
                    arm=a,
                    cohort=cohort,
                    n_impressions=total,
                    n_items_shown=int((counts > 0).sum()),
                    n_items=size,
                    coverage=float((counts > 0).mean()),
                    gini=gini(counts),
                    head_share=float(counts[head].sum() / total),
                    tail_share=float(counts[~head].sum() / total),
                    mean_popularity=arp,
                    popularity_lift=float("nan"),
                    head_fraction=head_fraction,
                )
            )
        for r in rows:
            lift = r.mean_popularity / arp_control - 1 if np.isfinite(arp_control) else np.nan
            records.append(dataclasses.replace(r, popularity_lift=float(lift)))
    return ResultCollection(records, "Exposure and popularity bias")


__all__ = ["BiasResult", "exposure_bias", "gini", "item_exposure"]
