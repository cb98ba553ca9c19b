"""Backtest reports: trades, equity, calibration and sweeps of a run, as report.html with PNG charts and summary.json."""
