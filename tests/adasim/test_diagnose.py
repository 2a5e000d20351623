"""Tests for adasim.jobs.diagnose and the ``adasim diagnose`` command."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from adasim.cli import main
from adasim.commands.diagnose import parse_curve
from adasim.jobs.diagnose import (
    CurvePoint,
    DiagnoseConfig,
    DiagnoseResult,
    LogDiagnostics,
    ReferenceRun,
    long_tail_shares,
)
from analysis.world_diagnostics import COHORTS
from simulator.errors import ConfigError

QUICK = str(Path(__file__).resolve().parents[2] / "configs" / "quick.toml")
TINY = [
    "--set",
    "world.n_users=150",
    "--set",
    "world.n_items=120",
    "--set",
    "world.history_days=3",
    "--set",
    "world.new_users_per_day=5",
]

KEYS = {
    "top5_user_share",
    "top5_item_share",
    "median_samples_old_user",
    "median_samples_new_user",
    "auc_id",
    "auc_noid",
    *(f"auc_{v}_{c}" for v in ("id", "noid") for c in COHORTS[1:]),
    "id_gain_head",
    "id_gain_tail",
    "cold_gap",
    "bayes_auc",
    "meta_bayes_auc",
    "noise_skip_share",
    "noise_episode_mean_length",
}


def test_long_tail_shares_of_a_hand_made_log() -> None:
    # 20 active users: user 0 makes 81 of 100 samples, so the top 5% (1 user) makes 0.81.
    users = np.array([0] * 81 + list(range(1, 20)), dtype=np.int64)
    # A catalogue of 40 items (2 make the top 5%): items 0 and 1 get 30 + 20 samples.
    items = np.array([0] * 30 + [1] * 20 + list(range(2, 40)) + [5] * 12, dtype=np.int64)
    user_share, item_share = long_tail_shares(users, items, n_catalogue=40)
    assert user_share == pytest.approx(0.81)
    assert item_share == pytest.approx(0.50)
    # Items never shown still count in the catalogue: with 100 items the top 5 hold more.
    _, wide = long_tail_shares(users, items, n_catalogue=100)
    assert wide == pytest.approx((30 + 20 + 13 + 1 + 1) / 100)
    with pytest.raises(ConfigError, match="beyond the catalogue of 30 items"):
        long_tail_shares(users, items, n_catalogue=30)


def _diagnostics(auc: dict[tuple[str, int], float]) -> LogDiagnostics:
    runs = tuple(
        ReferenceRun(v, s, {c: a + 0.01 * i for i, c in enumerate(COHORTS)}, 2, 1, 0.1)
        for (v, s), a in auc.items()
    )
    nan = float("nan")
    return LogDiagnostics(
        history_days=7,
        n_samples=100,
        n_train=60,
        n_valid=20,
        n_test=20,
        n_active_users=10,
        n_catalogue=30,
        top5_user_share=0.8,
        top5_item_share=0.9,
        median_samples_old_user=12.0,
        median_samples_new_user=2.0,
        noise_skip_share=0.1,
        noise_episode_mean_length=2.5,
        n_noise_episodes=4,
        bayes_auc=dict.fromkeys(COHORTS, 0.9),
        meta_bayes_auc=dict.fromkeys(COHORTS, nan),
        cohort_sizes=dict.fromkeys(COHORTS, 10),
        runs=runs,
    )


def test_result_pairs_the_seeds_and_renders() -> None:
    d = _diagnostics({("id", 0): 0.80, ("noid", 0): 0.75, ("id", 1): 0.84, ("noid", 1): 0.77})
    point = CurvePoint(14, 50, 20, 20, d.runs[::2], bayes_auc=0.9)  # the ID runs
    r = DiagnoseResult(
        "toy", 5, (0, 1), DiagnoseConfig(seeds=2), d, (point,), curve_history_days=30
    )
    out = r.to_dict()
    assert out["auc_id"] == pytest.approx(0.82)
    assert out["per_seed"]["id_gain_head"] == pytest.approx([0.05, 0.07])
    assert out["id_gain_head"] == pytest.approx(0.06)
    assert out["sd"]["id_gain_head"] == pytest.approx(np.std([0.05, 0.07], ddof=1))
    # cold_gap = AUC(old users) - AUC(new users) of the ID model, per seed
    gap = 0.01 * (COHORTS.index("old_users") - COHORTS.index("new_users"))
    assert out["cold_gap"] == pytest.approx(gap)
    assert out["bayes_gap"] == pytest.approx(0.9 - 0.82)
    assert out["curve"][0]["auc_id"] == pytest.approx(0.82)
    assert out["curve"][0]["bayes_gap"] == pytest.approx(0.9 - 0.82)
    assert out["curve_log"]["history_days"] == 30
    assert math.isnan(out["meta_bayes_auc"])
    table = r.to_pandas()
    assert set(KEYS) - {f"auc_noid_{c}" for c in ("new_users", "old_users")} <= set(table["metric"])
    assert "| training days |" in r.to_markdown()


def test_parse_curve() -> None:
    assert parse_curve(None) == ()
    assert parse_curve("7, 14,28") == (7, 14, 28)


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--seeds", "0"], r"--seeds == 0, must be >= 1"),
        (["--epochs", "0"], r"--epochs == 0, must be >= 1"),
        (["--curve", "7,x"], r"--curve == '7,x', must be a comma list of distinct whole"),
        (["--curve", "0,7"], r"--curve == '0,7', must be a comma list"),
        (["--curve", "7,7"], r"--curve == '7,7', must be a comma list of distinct"),
        (
            ["--curve", "500"],
            r"--curve == '500' needs a log of 502 history days .*: world.history_days == 502",
        ),
        (["--set", "world.history_days=0"], r"world.history_days == 0, must be >= 1"),
    ],
)
def test_bad_options_fail_in_one_line_before_any_work(
    extra: list[str], pattern: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diag"
    status = main(["diagnose", QUICK, "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("adasim diagnose: error: ")
    assert re.search(pattern, err), err
    assert not out.exists()  # nothing was written: the check came first


def test_diagnose_end_to_end_on_a_tiny_world(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diag"
    argv = ["diagnose", QUICK, "--out", str(out), *TINY, "--seeds", "1", "--epochs", "1"]
    status = main([*argv, "--curve", "1,2", "--no-progress"])
    assert status == 0
    assert "| top5_user_share |" in capsys.readouterr().out
    payload = json.loads((out / "diagnostics.json").read_text())
    assert set(payload) >= KEYS
    assert payload["history_days"] == 3
    assert payload["seeds"] == [0]
    for key in ("top5_user_share", "top5_item_share", "noise_skip_share", "bayes_auc"):
        assert 0.0 <= payload[key] <= 1.0
    assert payload["noise_episode_mean_length"] >= 1.0
    assert payload["median_samples_old_user"] >= 1.0
    # One log of 2 + 1 + 1 days (the longest window, one validation and one test day).
    assert payload["curve_log"]["history_days"] == 4
    assert (out / "curve" / "history" / "done.json").is_file()
    rows = payload["curve"]
    assert [row["train_days"] for row in rows] == [1, 2]
    assert rows[0]["n_train"] < rows[1]["n_train"]
    # The windows are tested on the same rows: one Bayes AUC.
    assert rows[0]["bayes_auc"] == rows[1]["bayes_auc"]
    md = (out / "diagnostics.md").read_text()
    assert "| auc_id |" in md
    assert "| training days |" in md
    assert (out / "history" / "events").is_dir()


def test_no_count_fields_leaves_only_the_static_fields() -> None:
    from simulator.config import load_config

    config = load_config(QUICK)
    with_counts = DiagnoseConfig().sim_data_config(config)
    without = DiagnoseConfig(count_fields=False).sim_data_config(config, first_minute=-5)
    assert with_counts.n_count_buckets > 0
    assert without.n_count_buckets == 0
    assert without.first_minute == -5
