"""analysis keeps its own copy of the event-log contract; it must equal the simulator's."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisError
from analysis.schema import DEFAULT_METRICS, EVENT_COLUMNS, USER_COLUMNS, MetricDef, metric_by_name


def test_contract_equals_simulator_types() -> None:
    types = pytest.importorskip("simulator.types")
    assert types.EVENT_COLUMNS == EVENT_COLUMNS
    assert types.USER_COLUMNS == USER_COLUMNS


def test_metric_lookup() -> None:
    assert [m.name for m in metric_by_name(None)] == [m.name for m in DEFAULT_METRICS]
    custom = MetricDef("listen_per_impression", "duration", "impressions", unit="s")
    assert metric_by_name(["likes", custom])[1] is custom
    assert custom.is_ratio
    assert custom.columns == ("duration", "impressions")


@pytest.mark.parametrize(
    ("names", "match"), [(["clicks"], "metric 'clicks' is unknown"), ([], "metrics == \\[\\]")]
)
def test_unknown_metric(names: list[str], match: str) -> None:
    with pytest.raises(AnalysisError, match=match):
        metric_by_name(names)
