"""The report's pictures: matplotlib on the Agg backend, PNG bytes with no timestamp or version in them.

Each function draws one figure and returns its PNG bytes, so the same run draws the
same bytes (the determinism test compares them).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timezone

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ops.report.figures import Bin, Breakdown, drawdowns  # noqa: E402
from ops.report.trades import EquityPoint, Trade  # noqa: E402

plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _times(path: Sequence[EquityPoint]) -> list[datetime]:
    return [datetime.fromtimestamp(p.ts / 1000, tz=timezone.utc) for p in path]


def _time_axis(ax: object) -> None:
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=timezone.utc))  # type: ignore[attr-defined]
    ax.set_xlabel("event time (UTC)")  # type: ignore[attr-defined]


def equity_chart(path: Sequence[EquityPoint], start_micros: int) -> bytes:
    """Equity (balance plus open positions marked to the bid) and its drawdown from the running peak."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=(3, 1.3))
    times = _times(path)
    equity = [p.equity_micros / 1e6 for p in path]
    top.step(times, equity, where="post", color=PALETTE[0], label="equity")
    top.axhline(start_micros / 1e6, color="#888", lw=0.8, ls="--", label="bankroll")
    top.set_ylabel("USD")
    top.set_title("Equity")
    top.legend(loc="upper left")
    dd = [d * 100 for d in drawdowns(path)]
    bottom.fill_between(times, dd, 0, step="post", color=PALETTE[1], alpha=0.4)
    bottom.set_ylabel("drawdown %")
    _time_axis(bottom)
    fig.tight_layout()
    return _png(fig)


def breakdown_chart(groups: Sequence[tuple[str, Sequence[Breakdown]]]) -> bytes:
    """Net P&L per group (market type, venue, league), one panel each."""
    fig, axes = plt.subplots(1, len(groups), figsize=(9, 3.2))
    for ax, (title, rows) in zip(axes, groups):
        keys = [r.key for r in rows] or ["(no trades)"]
        values = [r.net_pnl_micros / 1e6 for r in rows] or [0.0]
        ax.bar(keys, values, color=[PALETTE[2] if v >= 0 else PALETTE[1] for v in values])
        ax.axhline(0, color="#444", lw=0.8)
        ax.set_title(f"net P&L by {title}")
        ax.set_ylabel("USD")
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return _png(fig)


def edge_chart(trades: Sequence[Trade]) -> bytes:
    """Edge at entry against the realized return (net P&L over cost) of each trade."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    pts = [(t.edge, t.realized_return, t.venue) for t in trades if t.edge is not None and t.realized_return is not None]
    venues = sorted({v for _, _, v in pts})
    for i, venue in enumerate(venues):
        mine = [(e, r) for e, r, v in pts if v == venue]
        ax.scatter([e for e, _ in mine], [r * 100 for _, r in mine], color=PALETTE[i % len(PALETTE)], label=venue)
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlabel("edge at entry (model p - all-in cost)")
    ax.set_ylabel("realized return %")
    ax.set_title(f"Edge at entry vs realized return ({len(pts)} trades)")
    if venues:
        ax.legend()
    fig.tight_layout()
    return _png(fig)


def calibration_chart(model: Sequence[Bin], market: Sequence[Bin], n_model: int, n_market: int) -> bytes:
    """Reliability diagram by decile: observed frequency against mean predicted probability, model and market."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot([0, 1], [0, 1], color="#888", ls="--", lw=0.8, label="perfect")
    for bins, label, color, n in ((model, "model", PALETTE[0], n_model), (market, "market", PALETTE[4], n_market)):
        filled = [b for b in bins if b.n > 0 and b.mean_p is not None and b.observed is not None]
        if filled:
            ax.plot([b.mean_p for b in filled], [b.observed for b in filled], marker="o", color=color,
                    label=f"{label} ({n} samples)")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("predicted probability (decile mean)")
    ax.set_ylabel("observed frequency")
    ax.set_title("Calibration (reliability by decile)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _png(fig)


def overlay_chart(paths: Sequence[tuple[str, Sequence[EquityPoint]]]) -> bytes:
    """Equity of several runs (a sweep's variants) on one axis."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, (label, path) in enumerate(paths):
        # dashes differ too: variants that trade alike draw one line over another
        ax.step(_times(path), [p.equity_micros / 1e6 for p in path], where="post", label=label,
                color=PALETTE[i % len(PALETTE)], linestyle=("-", "--", ":", "-.")[i % 4], linewidth=1.6)
    ax.set_ylabel("USD")
    ax.set_title("Equity by variant")
    _time_axis(ax)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _png(fig)
