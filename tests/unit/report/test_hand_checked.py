"""The report's numbers on a small case checked by hand (tests/unit/report/hand_case.py says what is real and made up).

By hand, from the rules of the settings (arbees.toml, market exposure capped at $10) and the inputs:
- The model prices NY -1.5 at home at p(NY) = 0.548627 before tip (pinned below). Against the $0.35 ask
  (1,000 deep) the all-in cost is 0.35 + Kalshi's fee on the 1,000 (0.07 x 1000 x 0.35 x 0.65 = $15.925, rounded
  up to $15.93) per contract = 0.36593, edge 0.182697 >= min_edge 0.15: both
  events buy NY YES. Sizing is bound by the $10 market cap: floor(10 / 0.35) = 28 contracts each.
- Fees: Kalshi rounds 0.07 x 28 x 0.35 x 0.65 = $0.4459 up to $0.45 per fill; two fills: $0.90.
- Event 1 (SA won): 28 x (0 - 0.35) = -$9.80, net -$10.25. Event 2 (made-up twin, NY won):
  28 x (1 - 0.35) = +$18.20, net +$17.75. Net P&L +$7.50; hit rate 1/2; turnover 2 x 28 x 0.35 = $19.60.
- Sharpe-like across events: returns -0.01025 and +0.01775 of the bankroll; mean 0.00375, sd
  sqrt(2 x 0.014^2) = 0.0197990; ratio 0.189404.
- Calibration: one pre-final sample per event, p = 0.548627; outcomes 0 then 1. Model Brier
  (0.548627^2 + 0.451373^2) / 2 = 0.252365; the market's mid is 0.345 for both: (0.345^2 + 0.655^2) / 2
  = 0.274025. Log loss: model -(ln 0.451373 + ln 0.548627) / 2 = 0.697899, market
  -(ln 0.655 + ln 0.345) / 2 = 0.743665.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.report.build import RunMeta, analyze, write_run_report
from tests.unit.report.hand_case import EVENT, SETTINGS, TWIN, hand_case

P_NY = 0.5486271613786834  # the model's pregame p(NY) for this game, pinned


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    settings = tmp_path_factory.mktemp("hand") / "settings.toml"
    settings.write_text(SETTINGS)
    config = BacktestConfig(account="hand", config_file=str(settings))
    return InProcessEngine(config).run(hand_case())


def test_report_figures_equal_the_hand_computed_ones(run, tmp_path: Path) -> None:
    assert [p.outcomes["a"] for p in run.probabilities if p.ts < 1780975693900] == [P_NY, P_NY]
    report = analyze(run, RunMeta("bt-hand", "hand", "hand case"))
    f = report.figures
    assert f.start_balance_micros == 1_000_000_000
    assert f.net_pnl_micros == 7_500_000
    assert f.fees_micros == 900_000
    assert f.realized_pnl_micros == 8_400_000  # -9.80 + 18.20 before fees
    assert f.hit_rate == 0.5 and f.closed_trades == 2 and f.fills == 2
    assert f.turnover_micros == 19_600_000
    assert f.sharpe_like_across_events == pytest.approx(0.189404, abs=1e-6)
    by_event = {e.event_id: e.net_pnl_micros for e in f.events}
    assert by_event == {EVENT: -10_250_000, TWIN: 17_750_000}
    cal = f.calibration
    assert (cal.samples, cal.paired) == (2, 2)
    assert cal.model_brier == pytest.approx(0.252365, abs=1e-6)
    assert cal.market_brier_paired == pytest.approx(0.274025, abs=1e-9)
    assert cal.model_logloss_paired == pytest.approx(0.697899, abs=1e-6)
    assert cal.market_logloss_paired == pytest.approx(0.743665, abs=1e-6)
    trades = {t.event_id: t for t in report.trades}
    lost, won = trades[EVENT], trades[TWIN]
    assert (lost.quantity, lost.entry_price_micros, lost.exit_price_micros, lost.fees_micros, lost.exit_kind) == (
        28.0, 350_000, 0, 450_000, "settled")
    assert (won.exit_price_micros, won.net_pnl_micros) == (1_000_000, 17_750_000)
    assert lost.model_p == pytest.approx(P_NY) and lost.market_p == pytest.approx(0.345)
    assert lost.edge == pytest.approx(P_NY - 0.36593, abs=1e-9)
    assert report.equity[-1].equity_micros == 1_007_500_000

    # summary.json holds the same figures
    write_run_report(tmp_path, report)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["figures"]["net_pnl_micros"] == 7_500_000
    assert summary["figures"]["fees_micros"] == 900_000
    assert summary["figures"]["hit_rate"] == 0.5
    assert summary["figures"]["calibration"]["model_brier"] == pytest.approx(0.252365, abs=1e-6)
    page = (tmp_path / "report.html").read_text()
    assert "$7.50" in page and "$0.90" in page and "50.0%" in page and "0.2524" in page
