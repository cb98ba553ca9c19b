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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser = Browser(binary, width=1200, height=1000)
    try:
        browser.open((folder / "report.html").as_uri())
        browser.wait_for("document.readyState === 'complete'", 60)
        charts = browser.evaluate("""[...document.querySelectorAll('img.chart')].map(i => {
            const r = i.getBoundingClientRect();
            return {id: i.id, ok: i.complete && i.naturalWidth > 0, x: r.left + scrollX, y: r.top + scrollY,
                    w: r.width, h: r.height}; })""")
        tables = browser.evaluate("""Object.fromEntries([...document.querySelectorAll('table')].map(
            t => [t.id, t.querySelectorAll('tbody tr').length]))""")
        headline = browser.evaluate("document.querySelector('#headline').innerText")
        trades_text = browser.evaluate("document.querySelector('#trades').innerText")
        shot = browser.screenshot(ARTIFACTS / "backtest-report-nba-2026-finals-g3.png")
    finally:
        browser.close()
    print(f"\nbacktest report screenshot: {shot}")

    assert [c["id"] for c in charts] == [f"chart-{n}" for n in CHARTS]
    assert all(c["ok"] and c["w"] > 300 and c["h"] > 200 for c in charts), charts
    f = summary["figures"]
    assert tables["trades"] == f["trades"] == 3
    assert tables["headline"] >= 15 and tables["reliability"] == 10 and tables["calibration"] == 2
    assert tables["by-venue"] == 2  # Kalshi and Polymarket
    assert "$40.32" in headline and "100.0%" in headline  # net P&L and hit rate of the session
    assert "take_profit" in trades_text and "KALSHI" in trades_text and "POLYMARKET" in trades_text

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
