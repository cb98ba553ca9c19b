"""`arbees backtest --input` on the shipped session recording: a run of its own, deterministic, reported, swept.

Input: data/sessions/nba-2026-finals-g3/recording.avro (the recorded real session; see its PROVENANCE.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from ops.backtest.cli import backtest_app
from ops.backtest.recording import read_recording
from ops.backtest.runner import RunSpec, run_inprocess
from ops.backtest.inprocess import BacktestConfig

SESSION_FILE = Path(__file__).resolve().parents[3] / "data" / "sessions" / "nba-2026-finals-g3" / "recording.avro"
RUN_ID = re.compile(r"bt-\d{8}T\d{6}-[0-9a-f]{6}")


def _backtest(*args: str) -> str:
    result = CliRunner().invoke(backtest_app, ["backtest", "--input", str(SESSION_FILE), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_same_backtest_twice_gives_the_same_orders_fills_and_report(tmp_path: Path) -> None:
    out_a, out_b = _backtest("--report", str(tmp_path / "a")), _backtest("--report", str(tmp_path / "b"))
    ids = [RUN_ID.search(out_a), RUN_ID.search(out_b)]
    assert all(ids) and ids[0].group() != ids[1].group()  # type: ignore[union-attr]
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("a", "b"))
    assert a["run"]["run_id"] != b["run"]["run_id"]
    assert a["run"]["digest"] == b["run"]["digest"]  # every output (orders, fills, ...) byte for byte
    a.pop("run"), b.pop("run")
    assert a == b and a["trades"] and a["figures"]["fills"] == 6
    for name in ("equity.png", "pnl_breakdown.png", "edge_vs_return.png", "calibration.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    pages = [(tmp_path / d / "report.html").read_text() for d in ("a", "b")]
    assert pages[0].replace(ids[0].group(), "RUN") == pages[1].replace(ids[1].group(), "RUN")  # type: ignore[union-attr]

    # and the orders and fills themselves, run twice through the engine
    records = read_recording(SESSION_FILE).inputs().records
    first = run_inprocess(RunSpec("bt-1", BacktestConfig(), "x", {}), records)[1]
    second = run_inprocess(RunSpec("bt-2", BacktestConfig(), "x", {}), records)[1]
    enc_a, enc_b = first.encoded(), second.encoded()
    assert enc_a["orders"] == enc_b["orders"] and enc_a["fills"] == enc_b["fills"] and enc_a["orders"]
    assert first.digest() == a_digest(tmp_path)


def a_digest(tmp_path: Path) -> str:
    return json.loads((tmp_path / "a" / "summary.json").read_text())["run"]["digest"]


def test_a_sweep_runs_each_variant_as_its_own_run_and_compares_them(tmp_path: Path) -> None:
    out = _backtest("--report", str(tmp_path), "--workers", "2", "--sweep", "min_edge=0.15,0.30", "kelly=0.25,0.5")
    summary = json.loads((tmp_path / "summary.json").read_text())
    variants = summary["variants"]
    assert [v["run"]["params"] for v in variants] == [
        {"min_edge": 0.15, "kelly": 0.25}, {"min_edge": 0.15, "kelly": 0.5},
        {"min_edge": 0.3, "kelly": 0.25}, {"min_edge": 0.3, "kelly": 0.5}]
    assert len({v["run"]["run_id"] for v in variants}) == 4 and all(v["run"]["run_id"] in out for v in variants)
    base = variants[0]["figures"]
    # the settings do act: the default variant trades as the session does, a higher bar trades less
    assert base["fills"] == 6 and base["net_pnl_micros"] == 40_320_330
    assert variants[2]["figures"]["signals"] < base["signals"]
    settings = (tmp_path / "variant-3" / "settings.toml").read_text()
    assert "min_edge = 0.3" in settings and "kelly_fraction = 0.25" in settings
    page = (tmp_path / "report.html").read_text()
    assert page.count('href="variant-') == 4 and 'id="chart-equity_overlay"' in page
    assert (tmp_path / "equity_overlay.png").stat().st_size > 10_000
    for i in range(1, 5):
        assert (tmp_path / f"variant-{i}" / "report.html").exists()


def test_the_readme_shows_this_sessions_headline_figures(tmp_path: Path) -> None:
    """README "Backtests": the figures of the session's report as the code computes them today."""
    _backtest("--report", str(tmp_path))
    f = json.loads((tmp_path / "summary.json").read_text())["figures"]
    cal = f["calibration"]
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("## Backtests: recordings, reports, sweeps"):readme.index("## The local stack")]
    assert f"+${f['net_pnl_micros'] / 1e6:,.2f} (+{f['return_on_bankroll']:.2%})" in section
    assert f"${f['realized_pnl_micros'] / 1e6:,.2f} / ${f['fees_micros'] / 1e6:,.2f}" in section
    assert f"{f['signals']} / {f['orders']} / {f['fills']}" in section
    assert f"{f['max_drawdown']:.2%}" in section
    assert f"{cal['model_brier_paired']:.4f} vs {cal['market_brier_paired']:.4f}" in section
    assert f"{cal['model_logloss_paired']:.4f} vs {cal['market_logloss_paired']:.4f}" in section
    shown = Path(__file__).resolve().parents[3] / "docs" / "backtest-nba-2026-finals-g3-equity.png"
    assert shown.read_bytes() == (tmp_path / "equity.png").read_bytes(), (
        "the README's chart is not this run's: copy equity.png of `arbees backtest --input "
        "data/sessions/nba-2026-finals-g3/recording.avro --report DIR` to docs/ and update the figures")
