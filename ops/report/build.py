"""A run's report: analyze the outputs once, write summary.json, the PNG charts and one self-contained report.html.

`analyze` is the only place that reads a run; everything written comes from the
`RunReport` it returns, so the page, the JSON and the database rows hold the same
figures. Nothing written depends on the wall clock: the run id and the run's own
metadata (`RunMeta`) are the only per-run values, kept apart in `summary["run"]`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ops.report import charts
from ops.report.figures import Figures, figures, samples
from ops.report.html import render_run, render_sweep
from ops.report.trades import EquityPoint, RunOutputs, Trade, equity_path, trades


@dataclass(frozen=True)
class RunMeta:
    """Which run this is: its id (unique per run), what it replayed, with which settings."""

    run_id: str
    account: str
    input: str  # a recording file or a topic range
    engine: str = "inprocess"
    params: dict[str, object] = field(default_factory=dict)  # the sweep variant's overrides, empty otherwise
    inputs: int = 0
    digest: str = ""  # BacktestResult.digest(): equal for runs with byte-identical outputs

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.params.items()) or "base"


@dataclass(frozen=True)
class RunReport:
    meta: RunMeta
    figures: Figures
    trades: list[Trade]
    equity: list[EquityPoint]

    def summary(self) -> dict[str, object]:
        """summary.json: the figures, the trades and the equity path; `run` holds the per-run values."""
        return {
            "run": asdict(self.meta),
            "figures": self.figures.as_dict(),
            "trades": [{**asdict(t), "net_pnl_micros": t.net_pnl_micros, "realized_return": t.realized_return}
                       for t in self.trades],
            "equity": [{"ts": p.ts, "balance_micros": p.balance_micros, "unrealized_micros": p.unrealized_micros}
                       for p in self.equity],
        }


def analyze(run: RunOutputs, meta: RunMeta) -> RunReport:
    made = trades(run, meta.account)
    path = equity_path(run, meta.account)
    return RunReport(meta, figures(run, meta.account, made, path, samples(run)), made, path)


def run_charts(report: RunReport) -> dict[str, bytes]:
    f = report.figures
    cal = f.calibration
    return {
        "equity.png": charts.equity_chart(report.equity, f.start_balance_micros),
        "pnl_breakdown.png": charts.breakdown_chart((("market type", f.by_market_type), ("venue", f.by_venue),
                                                     ("league", f.by_league))),
        "edge_vs_return.png": charts.edge_chart(report.trades),
        "calibration.png": charts.calibration_chart(cal.model_bins, cal.market_bins, cal.samples, cal.paired),
    }


def _dump(data: object) -> str:
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"


def write_run_report(folder: Path, report: RunReport) -> Path:
    """report.html, summary.json and the charts (also embedded in the page) into `folder`; returns the page."""
    folder.mkdir(parents=True, exist_ok=True)
    pngs = run_charts(report)
    for name, data in pngs.items():
        (folder / name).write_bytes(data)
    (folder / "summary.json").write_text(_dump(report.summary()))
    page = folder / "report.html"
    page.write_text(render_run(report, pngs))
    return page


def write_sweep_report(folder: Path, reports: list[RunReport]) -> Path:
    """One folder per variant (its own report) plus the comparison: report.html, summary.json, equity_overlay.png."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, rep in enumerate(reports):
        write_run_report(folder / f"variant-{i + 1}", rep)
    overlay = charts.overlay_chart([(r.meta.label, r.equity) for r in reports])
    (folder / "equity_overlay.png").write_bytes(overlay)
    (folder / "summary.json").write_text(_dump({"variants": [
        {"folder": f"variant-{i + 1}", "run": asdict(r.meta), "figures": r.figures.as_dict()}
        for i, r in enumerate(reports)]}))
    page = folder / "report.html"
    page.write_text(render_sweep(reports, overlay))
    return page
