"""The backtest report of the recorded session, rendered in headless Chromium: charts drawn, tables filled.

`arbees backtest --input data/sessions/nba-2026-finals-g3/recording.avro --report DIR` (the recorded real
session), then report.html opened from disk in Debian's `chromium` over the DevTools protocol. The DOM must
show every chart decoded and every table with its rows; the screenshot (kept in ARBEES_TEST_ARTIFACTS, default
tmp/artifacts) must show each chart's pixels where the page put it, the equity line in its colour. No
Chromium is a failure, not a skip: CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from tests.e2e.chromium import Browser, chromium_binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ARBEES_TEST_ARTIFACTS", "") or REPO / "tmp" / "artifacts")
RECORDING = REPO / "data" / "sessions" / "nba-2026-finals-g3" / "recording.avro"
CHARTS = ("equity", "pnl_breakdown", "edge_vs_return", "calibration")
EQUITY_BLUE = np.array([0x1F, 0x77, 0xB4]) / 255


def test_the_session_report_renders_with_its_charts_and_tables(tmp_path: Path) -> None:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)", pytrace=False)
    folder = tmp_path / "report"
    out = subprocess.run([sys.executable, "-m", "ops.cli", "backtest", "--input", str(RECORDING), "--report", str(folder)],
                         cwd=REPO, capture_output=True, text=True, timeout=240, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads((folder / "summary.json").read_text())
    page = render(binary, folder / "report.html", "backtest-report-nba-2026-finals-g3.png")
    charts, tables, headline, trades_text = page["charts"], page["tables"], page["headline"], page["trades"]
    assert [c["id"] for c in charts] == [f"chart-{n}" for n in CHARTS]
    assert all(c["ok"] and c["w"] > 300 and c["h"] > 200 for c in charts), charts
    f = summary["figures"]
    assert tables["trades"] == f["trades"] == 3
    assert tables["headline"] >= 15 and tables["reliability"] == 10 and tables["calibration"] == 2
    assert tables["by-venue"] == 2  # Kalshi and Polymarket
    assert "$40.32" in headline and "100.0%" in headline  # net P&L and hit rate of the session
    assert "take_profit" in trades_text and "KALSHI" in trades_text and "POLYMARKET" in trades_text

    assert_drawn(page["shot"], charts)


def render(binary: str, html: Path, artifact: str) -> dict:
    """The report page in headless Chromium: its charts (decoded, where drawn), table row counts, headline and
    trades text, and a screenshot of the whole page kept in ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser = Browser(binary, width=1200, height=1000)
    try:
        browser.open(html.as_uri())
        browser.wait_for("document.readyState === 'complete'", 60)
        page = {
            "charts": browser.evaluate("""[...document.querySelectorAll('img.chart')].map(i => {
                const r = i.getBoundingClientRect();
                return {id: i.id, ok: i.complete && i.naturalWidth > 0, x: r.left + scrollX, y: r.top + scrollY,
                        w: r.width, h: r.height}; })"""),
            "tables": browser.evaluate("""Object.fromEntries([...document.querySelectorAll('table')].map(
                t => [t.id, t.querySelectorAll('tbody tr').length]))"""),
            "headline": browser.evaluate("document.querySelector('#headline').innerText"),
            "trades": browser.evaluate("document.querySelector('#trades').innerText"),
            "shot": browser.screenshot(ARTIFACTS / artifact),
        }
    finally:
        browser.close()
    print(f"\nbacktest report screenshot: {page['shot']}")
    return page


def assert_drawn(shot: Path, charts: list[dict]) -> None:
    """Each chart's pixels in the screenshot hold a drawing, and the equity chart its line in its colour."""
    pixels = image.imread(str(shot))[:, :, :3]
    assert pixels.shape[0] > 2000  # the whole page, not one viewport
    for c in charts:
        y0, x0 = int(c["y"]), int(c["x"])
        region = pixels[y0 + 5:y0 + int(c["h"]) - 5, x0 + 5:x0 + int(c["w"]) - 5]
        inked = (region < 0.9).any(axis=2).mean()
        assert 0.02 < inked < 0.9, (c["id"], inked)  # a drawn chart: axes, text, marks; not blank, not a block
    eq = charts[0]
    region = pixels[int(eq["y"]):int(eq["y"] + eq["h"]), int(eq["x"]):int(eq["x"] + eq["w"])]
    assert (np.abs(region - EQUITY_BLUE).max(axis=2) < 0.08).sum() > 200  # the equity line itself


def test_the_hand_checked_report_renders_its_hand_computed_figures(tmp_path: Path) -> None:
    """The small case of tests/unit/report/test_hand_checked.py (figures computed by hand there: net +$7.50, fees
    $0.90, hit rate 50%, model Brier 0.2524 against the market's 0.2740) as a trader opens it: the page in
    Chromium shows those figures, both trades, and every chart drawn."""
    from ops.backtest.inprocess import BacktestConfig, InProcessEngine
    from ops.report.build import RunMeta, analyze, write_run_report
    from tests.unit.report.hand_case import SETTINGS, hand_case

    binary = chromium_binary()
    if binary is None:
        pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)", pytrace=False)
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    run = InProcessEngine(BacktestConfig(account="hand", config_file=str(settings))).run(hand_case())
    folder = tmp_path / "report"
    write_run_report(folder, analyze(run, RunMeta("bt-hand", "hand", "hand case")))
    page = render(binary, folder / "report.html", "backtest-report-hand-case.png")
    assert [c["id"] for c in page["charts"]] == [f"chart-{n}" for n in CHARTS]
    assert all(c["ok"] for c in page["charts"]), page["charts"]
    headline = page["headline"]
    assert "$7.50" in headline and "$0.90" in headline and "50.0%" in headline and "0.2524" in headline, headline
    assert page["tables"]["trades"] == 2 and page["trades"].count("settled") == 2
    assert_drawn(page["shot"], page["charts"])
