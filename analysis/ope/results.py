"""Result records of offline policy evaluation: one frozen estimate, a collection that renders.

An :class:`OPEEstimate` carries the point estimate, its bootstrap interval and the overlap
diagnostics of the weights it came from, so a table of estimates always shows how far each
one can be trusted. :class:`OPEResults` is an immutable sequence of estimates with
``to_pandas()``, ``to_dicts()``, a plain-text table (``str``) and an HTML table for
notebooks (``_repr_html_``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from analysis.ope.diagnostics import OverlapDiagnostics

if TYPE_CHECKING:
    import pandas as pd

Level = Literal["round", "session"]
Quantity = Literal["value", "effect"]

#: Columns shown by ``__str__`` and ``_repr_html_`` (``to_pandas`` has them all).
_DISPLAY_COLUMNS = (
    "cohort",
    "level",
    "quantity",
    "reward",
    "estimator",
    "estimate",
    "ci_lower",
    "ci_upper",
    "n_rounds",
    "ess_ratio",
    "max_weight",
    "share_tiny_pscore",
)


@dataclass(frozen=True)
class OPEEstimate:
    """One estimator's estimate of one policy value.

    Attributes:
        estimator: Short name, e.g. ``"ipw"``, ``"snipw"``, ``"dr"``, ``"pdis"``.
        estimate: The point estimate of the evaluation policy's value.
        ci_lower: Lower end of the bootstrap ``1 - alpha`` interval (``nan`` if none).
        ci_upper: Upper end of the interval (``nan`` if none).
        alpha: Significance level of the interval.
        n_bootstrap_samples: Number of bootstrap resamples (0 if no interval).
        diagnostics: Overlap diagnostics of the weights behind the estimate.
        reward: Name of the reward the value is of (e.g. ``"finish"``).
        level: ``"round"`` (per impression) or ``"session"`` (per session).
        quantity: ``"value"`` (the evaluation policy's value) or ``"effect"`` (its value
            minus the logging policy's, the log's own mean; the interval comes from the
            same resamples for both terms, so it is paired).
        cohort: Cohort label, ``"all"`` for the whole log, else ``"column=value"``.
        random_state: The seed the interval was drawn with, if it was an int.
    """

    estimator: str
    estimate: float
    ci_lower: float
    ci_upper: float
    alpha: float
    n_bootstrap_samples: int
    diagnostics: OverlapDiagnostics
    reward: str = "reward"
    level: Level = "round"
    cohort: str = "all"
    quantity: Quantity = "value"
    random_state: int | None = field(default=None, compare=False)

    @property
    def n_rounds(self) -> int:
        """Number of rounds (or sessions) the estimate is based on."""
        return self.diagnostics.n_rounds

    def to_dict(self) -> dict[str, Any]:
        """A flat dict: the estimate's fields followed by the diagnostics."""
        row: dict[str, Any] = {
            "cohort": self.cohort,
            "reward": self.reward,
            "level": self.level,
            "quantity": self.quantity,
            "estimator": self.estimator,
            "estimate": self.estimate,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "alpha": self.alpha,
            "n_bootstrap_samples": self.n_bootstrap_samples,
            "random_state": self.random_state,
        }
        row.update(self.diagnostics.to_dict())
        return row


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def render_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A right-aligned plain-text table of ``columns`` of the dict ``rows``."""
    cells = [[_fmt(r[c]) for c in columns] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def render_html(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """An HTML table of ``columns`` of the dict ``rows`` (escaped)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class OPEResults(Sequence[OPEEstimate]):
    """An immutable collection of :class:`OPEEstimate` that renders itself as a table.

    Attributes:
        estimates: The estimates, in the order they were computed.
    """

    estimates: tuple[OPEEstimate, ...] = ()

    @overload
    def __getitem__(self, index: int) -> OPEEstimate: ...

    @overload
    def __getitem__(self, index: slice) -> OPEResults: ...

    def __getitem__(self, index: int | slice) -> OPEEstimate | OPEResults:
        if isinstance(index, slice):
            return OPEResults(self.estimates[index])
        return self.estimates[index]

    def __len__(self) -> int:
        return len(self.estimates)

    def __iter__(self) -> Iterator[OPEEstimate]:
        return iter(self.estimates)

    def __add__(self, other: OPEResults) -> OPEResults:
        return OPEResults(self.estimates + other.estimates)

    def get(
        self,
        estimator: str,
        *,
        reward: str | None = None,
        cohort: str = "all",
        level: Level | None = None,
        quantity: Quantity = "value",
    ) -> OPEEstimate:
        """The one estimate matching the arguments; ``KeyError`` if none or several match."""
        found = [
            e
            for e in self.estimates
            if e.estimator == estimator
            and e.cohort == cohort
            and (reward is None or e.reward == reward)
            and (level is None or e.level == level)
            and e.quantity == quantity
        ]
        if len(found) != 1:
            raise KeyError(
                f"{len(found)} estimates match estimator={estimator!r}, reward={reward!r}, "
                f"cohort={cohort!r}, level={level!r}, quantity={quantity!r}; need exactly one"
            )
        return found[0]

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per estimate (JSON-ready apart from NaN)."""
        return [e.to_dict() for e in self.estimates]

    def to_pandas(self) -> pd.DataFrame:
        """One row per estimate, with every field and diagnostic as a column."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def __str__(self) -> str:
        return render_text(self.to_dicts(), _DISPLAY_COLUMNS)

    def _repr_html_(self) -> str:
        return render_html(self.to_dicts(), _DISPLAY_COLUMNS)
