"""The synthetic log follows the documented schema and is reproducible by seed."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.schema import EVENT_COLUMNS, USER_COLUMNS
from analysis.synthetic import SyntheticLogConfig, synthetic_log


def test_schema_and_seed() -> None:
    cfg = SyntheticLogConfig(n_users=200, n_days=3, pre_days=2)
    e1, u1 = synthetic_log(cfg, rng=0)
    e2, _ = synthetic_log(cfg, rng=0)
    e3, _ = synthetic_log(cfg, rng=1)
    assert list(e1.columns) == list(EVENT_COLUMNS)
    assert set(USER_COLUMNS) <= set(u1.columns)
    pd.testing.assert_frame_equal(e1, e2)
    assert not e1.equals(e3)
    assert e1["item_id"].between(0, cfg.n_items - 1).all()
    assert (e1.loc[e1["day"] < 0, "arm"] == "control").all()  # pre-period on control


def test_invalid() -> None:
    with pytest.raises(AnalysisError, match="n_users == 0"):
        SyntheticLogConfig(n_users=0)
