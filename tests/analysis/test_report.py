"""build_report writes md, self-contained html, summary.json and figures; HTML renders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.errors import AnalysisError
from analysis.figures import save_figure
from analysis.metrics import infer_window, load_events
from analysis.report import ReportSection, build_report, load_summary, write_report
from analysis.results import ResultCollection
from analysis.synthetic import SyntheticLogConfig, synthetic_log
from analysis.twin import TrueEffect


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = SyntheticLogConfig(n_users=800, n_days=5, pre_days=3, return_lift=0.2)
    events, users = synthetic_log(cfg, rng=8)
    d = tmp_path_factory.mktemp("run")
    (d / "events").mkdir()
    half = len(events) // 2
    events.iloc[:half].to_parquet(d / "events" / "part-00000.parquet")
    events.iloc[half:].to_parquet(d / "events" / "part-00001.parquet")
    users.to_parquet(d / "users.parquet")
    pd.DataFrame({"item_id": np.arange(cfg.n_items)}).to_parquet(d / "items.parquet")
    return d


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("report")
    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set(title="Adapter weights", xlabel="user state (quantile)", ylabel="weight (0-1)")
    extra = ReportSection(
        "Twin truth",
        "True effects from the twin run.",
        [{"metric": "active_days", "true_rel_effect": 0.2, "estimate": float("nan")}],
        figures=(save_figure(fig, out / "extra" / "weights.png"),),
    )
    return build_report(run_dir, extra_sections=[extra], out_dir=out)


def test_files_written(report) -> None:  # type: ignore[no-untyped-def]
    assert report.markdown.exists()
    assert report.html.exists()
    assert report.summary.exists()
    assert {p.name for p in report.figures} == {
        "forest.png",
        "cumulative_lift.png",
        "rank_frequency.png",
    }
    for p in report.figures:
        assert p.read_bytes()[:4] == b"\x89PNG"


def test_html_is_self_contained(report) -> None:  # type: ignore[no-untyped-def]
    html = report.html.read_text()
    assert html.count("data:image/png;base64,") == 4  # three report figures + one extra
    assert 'src="figures/' not in html
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert "Twin truth" in html


def test_summary_matches_analysis(report) -> None:  # type: ignore[no-untyped-def]
    summary = load_summary(report.summary)
    effects = report.analysis.effects
    assert len(summary["effects"]) == len(effects)
    first = summary["effects"][0]
    assert first["metric"] == effects[0].metric
    assert first["pvalue"] == pytest.approx(effects[0].pvalue)
    assert summary["extra_sections"]["twin_truth"]["rows"][0]["estimate"] is None
    assert summary["window"]["start_day"] == 0
    assert {"srm", "segment_diffs", "power", "sequential", "bias"} <= set(summary)
    # every figure of the report has a title, labelled axes and units
    assert summary["figure_label_problems"] == {
        "forest.png": [],
        "cumulative_lift.png": [],
        "rank_frequency.png": [],
    }
    json.dumps(summary, allow_nan=False)


def test_markdown_mentions_every_section(report) -> None:  # type: ignore[no-untyped-def]
    md = report.markdown.read_text()
    for heading in (
        "Effects by metric and segment",
        "Sample-ratio mismatch",
        "New versus old users",
        "Daily cumulative monitoring",
        "Exposure and popularity bias",
        "Twin truth",
    ):
        assert f"## {heading}" in md
    assert "![Lift by metric and segment](figures/forest.png)" in md


def test_headline_table_comes_first(report) -> None:  # type: ignore[no-untyped-def]
    """Right after the title and source line, before the figures, in md and html; the same
    cells in summary.json and on the returned Report."""
    md = report.markdown.read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[:2] == ["# A/B experiment report", "## Relative lifts (treatment vs control)"]
    assert md.index("| State | Active Days |") < md.index("![Lift by metric and segment]")
    assert "`[ ]`: 95% interval of each cell" in md
    html = report.html.read_text()
    assert html.index("<h1>") < html.index('<table class="lift-table">') < html.index("<figure>")
    summary = load_summary(report.summary)
    assert summary["lift_table"] == report.lift_table.to_dicts()
    assert len(report.lift_table) == 18
    assert not report.lift_table.has_truth  # a plain log has no twin


def test_truth_is_marked_in_the_report(run_dir: Path, tmp_path: Path) -> None:
    """With the twin's truth: '!' where an interval misses it (here planted in one cell),
    truth markers on the forest plot, the flags in summary.json."""
    events = load_events(run_dir / "events")
    users = pd.read_parquet(run_dir / "users.parquet")
    window = infer_window(events, users)
    plain = write_report(events, users, window, tmp_path / "plain")
    truth = ResultCollection(
        [
            TrueEffect(
                r.metric,
                r.segment,
                10,
                1.0,
                1.0,
                0.0,
                (r.rel_effect_size_ci_upper + 1.0)
                if (r.metric, r.segment) == ("duration", "old")
                else r.rel_effect_size,
            )
            for r in plain.analysis.effects
        ]
    )
    got = write_report(events, users, window, tmp_path / "twin", truth=truth)
    assert [(c.metric, c.segment) for c in got.lift_table.misses] == [("duration", "old")]
    md = got.markdown.read_text()
    assert md.count("]!;") + md.count("]*!;") == 1
    assert "(1 of 18 cells)" in md
    assert got.html.read_text().count(">!</strong>") == 1
    cells = load_summary(got.summary)["lift_table"]
    assert [c["truth_outside_ci"] for c in cells].count(True) == 1
    # The forest plot changed: it carries the truth markers.
    assert (got.out_dir / "figures" / "forest.png").read_bytes() != (
        plain.out_dir / "figures" / "forest.png"
    ).read_bytes()


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match=r"has no users\.parquet"):
        build_report(tmp_path)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_html_renders_in_headless_chromium(report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    shot = tmp_path / "shot.png"
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,1600",
        report.html.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1600, 1280)
    # A blank page is one colour; the report has text, tables and plots.
    assert pixels.std() > 20
    assert (pixels < 200).mean() > 0.01
