"""evaluate_logs on a synthetic session log, and the result records."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError, SchemaError
from analysis.ope import (
    LogColumns,
    OPEResults,
    ShrunkMeanRewardModel,
    SyntheticBandit,
    evaluate_logs,
)


def _log(seed: int = 0) -> tuple[SyntheticBandit, Any, dict[str, np.ndarray]]:
    b = SyntheticBandit.build(n_actions=12, n_context_types=40, rng=seed)
    fb = b.sample_sessions(800, 5, rng=seed + 1)
    assert fb.session_id is not None
    assert fb.step is not None
    log = {
        "item_id": fb.action,
        "pscore": fb.pscore,
        "finish": fb.reward,
        "listen_seconds": 30.0 * fb.reward + 5.0,
        "session_id": fb.session_id,
        "step": fb.step,
        "user_id": fb.session_id // 2,
        "cohort": np.where(fb.session_id % 3 == 0, "new", "old"),
        "x0": fb.context[:, 0],
    }
    return b, fb, log


def test_logging_policy_as_evaluation_policy_gives_the_logged_mean() -> None:
    b, fb, log = _log()
    dist = b.sparse_action_dist(b.behavior_policy, fb.context_type)
    res = evaluate_logs(log, dist, cohorts=["cohort"], n_bootstrap_samples=50, rng=0)
    for cohort in ("all", "cohort=new", "cohort=old"):
        logged = res.get("logged", reward="finish", cohort=cohort, level="round").estimate
        # With w = 1 IPS and SNIPS are the logged mean exactly; the DR family adds
        # mean(q(x, pi_e) - q(x, a)), which is not zero on a finite log.
        for name in ("ipw", "snipw"):
            assert res.get(name, reward="finish", cohort=cohort).estimate == pytest.approx(logged)
            # Paired resamples: the effect is exactly 0 in every resample.
            effect = res.get(name, reward="finish", cohort=cohort, quantity="effect")
            assert effect.estimate == pytest.approx(0.0, abs=1e-12)
            assert effect.ci_lower == pytest.approx(0.0, abs=1e-12)
            assert effect.ci_upper == pytest.approx(0.0, abs=1e-12)
    mask = log["cohort"] == "new"
    assert res.get("logged", cohort="cohort=new", level="round").estimate == pytest.approx(
        log["finish"][mask].mean()
    )
    totals = pd.Series(log["listen_seconds"]).groupby(log["session_id"]).sum()
    pdis = res.get("pdis", reward="listen_seconds", cohort="all")
    assert pdis.estimate == pytest.approx(totals.mean())
    assert res.get("logged", reward="listen_seconds", level="session").estimate == pytest.approx(
        totals.mean()
    )
    assert pdis.n_rounds == 800


def test_result_layout_and_rendering() -> None:
    b, fb, log = _log(3)
    dist = b.sparse_action_dist(b.softmax_policy(3.0), fb.context_type)
    res = evaluate_logs(
        pd.DataFrame(log),
        dist,
        context=["x0"],
        cohorts=["cohort"],
        n_bootstrap_samples=30,
        rng=1,
    )
    # Rounds: 3 cohorts x (logged + 7 values + 7 effects); sessions: 2 rewards x 3 cohorts
    # x (logged + 2 values + 2 effects).
    assert len(res) == 3 * 15 + 2 * 3 * 5
    dr = res.get("dr", reward="finish", cohort="cohort=old")
    logged = res.get("logged", reward="finish", cohort="cohort=old", level="round")
    dr_effect = res.get("dr", reward="finish", cohort="cohort=old", quantity="effect")
    assert dr_effect.estimate == pytest.approx(dr.estimate - logged.estimate, abs=1e-12)
    df = res.to_pandas()
    assert {
        "estimate",
        "ci_lower",
        "ci_upper",
        "effective_sample_size",
        "max_weight",
        "share_tiny_pscore",
        "cohort",
        "level",
    } <= set(df.columns)
    assert (df["ci_lower"] <= df["ci_upper"]).all()
    text = str(res)
    assert "switch-dr" in text
    assert "wpdis" in text
    assert "cohort=new" in text
    assert res._repr_html_().startswith("<table>")
    assert isinstance(res[:2], OPEResults)
    again = evaluate_logs(
        pd.DataFrame(log),
        dist,
        context=["x0"],
        cohorts=["cohort"],
        n_bootstrap_samples=30,
        rng=1,
    )
    assert again.to_dicts() == res.to_dicts()


def test_missing_column_is_a_schema_error() -> None:
    b, fb, log = _log()
    dist = b.sparse_action_dist(b.behavior_policy, fb.context_type)
    with pytest.raises(SchemaError, match="log has no column 'item'"):
        evaluate_logs(log, dist, columns=LogColumns(action="item"))
    with pytest.raises(SchemaError, match="log has no column 'likes'"):
        evaluate_logs(log, dist, rewards=["likes"], reward_model=ShrunkMeanRewardModel())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_bootstrap_samples": 0}, r"n_bootstrap_samples == 0, must be an integer >= 1"),
        ({"n_bootstrap_samples": 2.5}, r"n_bootstrap_samples == 2\.5"),
        ({"n_folds": 0}, r"n_folds == 0, must be an integer >= 1"),
        ({"alpha": 1.5}, r"alpha == 1\.5, must be in \(0, 1\)"),
    ],
)
def test_bad_numbers_fail_before_any_estimation(
    kwargs: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analysis.ope.evaluate as evaluate

    def never(*args: Any, **kw: Any) -> Any:
        raise AssertionError("the reward model was fitted before the arguments were checked")

    monkeypatch.setattr(evaluate, "cross_fit_predict", never)
    b, fb, log = _log()
    dist = b.sparse_action_dist(b.behavior_policy, fb.context_type)
    with pytest.raises(AnalysisError, match=message):
        evaluate_logs(log, dist, **kwargs)


def test_on_block_counts_every_reward_level_and_cohort() -> None:
    b, fb, log = _log()
    dist = b.sparse_action_dist(b.behavior_policy, fb.context_type)
    calls: list[tuple[str, int, int]] = []
    evaluate_logs(
        log,
        dist,
        cohorts=["cohort"],
        n_bootstrap_samples=5,
        rng=0,
        on_block=lambda label, done, total: calls.append((label, done, total)),
    )
    # (finish round + finish and listen_seconds sessions) x (all, new, old)
    assert [c[1] for c in calls] == list(range(1, 10))
    assert {c[2] for c in calls} == {9}
    assert calls[0][0] == "finish/round/all"
    assert calls[-1][0] == "listen_seconds/session/cohort=old"


def test_dense_action_dist_gives_the_same_as_sparse() -> None:
    b, fb, log = _log(5)
    policy = b.softmax_policy(1.5)
    kwargs: dict[str, Any] = {
        "session_rewards": (),
        "n_bootstrap_samples": 20,
        "reward_model": ShrunkMeanRewardModel(),
        "rng": 4,
    }
    sparse = evaluate_logs(log, b.sparse_action_dist(policy, fb.context_type), **kwargs)
    dense = evaluate_logs(log, b.action_dist(policy, fb.context_type), **kwargs)
    for s, d in zip(sparse, dense, strict=True):
        assert s.estimator == d.estimator
        assert s.estimate == pytest.approx(d.estimate, rel=1e-9)


def test_ope_imports_no_torch_and_no_other_adasim_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, analysis.ope; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'simulator', 'agents', 'adaf2m2')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
