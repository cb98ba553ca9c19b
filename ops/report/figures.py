"""The report's numbers, as pure functions of a run's trades, equity path and probabilities.

Definitions (also printed in the report):
- P&L is net of fees: final equity minus the starting bankroll.
- Hit rate: closed trades (sold or settled) with net P&L > 0, over closed trades.
- Turnover: the notional of every fill (contracts x price), and that over the bankroll.
- Sharpe-like per event: mean over standard deviation (n-1) of the event's trades' net returns
  (net P&L over cost); across events, the same over the events' net P&L as a share of the bankroll.
  Undefined (null) below two samples or with no dispersion.
- Calibration: every model probability the run emitted before its event was final, for each outcome it
  priced (outcome `a` alone for two-outcome events, whose `b` is its mirror), scored against what
  happened (the event's final winner). The market's probability for the same outcome at the same instant
  is the mean mid of the event's linked markets' books (a market backing the other side counts as
  1 - its mid). Brier and log loss of both are computed on the samples where both exist; the model's
  own Brier on all its samples too. Reliability: samples binned by predicted probability in deciles.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from schemas.enums import EventStatus
from schemas.records import Fill

from ops.report.trades import EquityPoint, RunOutputs, Trade

LOG_FLOOR = 1e-6  # probabilities are clipped to [1e-6, 1 - 1e-6] for log loss


@dataclass(frozen=True)
class Sample:
    """One scored probability: what the model and (when quoted) the market said, and what happened."""

    ts: int
    event_id: str
    outcome: str
    model_p: float
    market_p: float | None
    happened: int


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    n: int
    mean_p: float | None
    observed: float | None


@dataclass(frozen=True)
class Calibration:
    samples: int  # model samples with a known outcome
    paired: int  # of those, with the market's probability at the same instant
    model_brier: float | None  # on all samples
    model_brier_paired: float | None
    market_brier_paired: float | None
    model_logloss_paired: float | None
    market_logloss_paired: float | None
    model_bins: list[Bin] = field(default_factory=list)
    market_bins: list[Bin] = field(default_factory=list)


@dataclass(frozen=True)
class Breakdown:
    key: str
    trades: int
    net_pnl_micros: int
    fees_micros: int


@dataclass(frozen=True)
class EventFigures:
    event_id: str
    trades: int
    net_pnl_micros: int
    sharpe_like: float | None


@dataclass(frozen=True)
class Figures:
    """Everything summary.json holds about one run (money in micro-dollars, ratios as fractions)."""

    start_balance_micros: int
    final_equity_micros: int
    net_pnl_micros: int
    realized_pnl_micros: int  # before fees
    unrealized_pnl_micros: int
    fees_micros: int
    return_on_bankroll: float
    max_drawdown: float  # fraction of the running peak, <= 0
    trades: int
    closed_trades: int
    hit_rate: float | None
    fills: int
    turnover_micros: int
    turnover_ratio: float
    signals: int
    orders: int
    sharpe_like_across_events: float | None
    events: list[EventFigures]
    by_market_type: list[Breakdown]
    by_venue: list[Breakdown]
    by_league: list[Breakdown]
    calibration: Calibration

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _sharpe(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    sd = statistics.stdev(values)
    return statistics.fmean(values) / sd if sd > 0 else None


def drawdowns(path: Sequence[EquityPoint]) -> list[float]:
    """Equity over its running peak, minus one, at each point (0 at a new peak)."""
    peak = -math.inf
    out = []
    for p in path:
        peak = max(peak, p.equity_micros)
        out.append(p.equity_micros / peak - 1 if peak > 0 else 0.0)
    return out


def breakdown(trades: Sequence[Trade], attr: str) -> list[Breakdown]:
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(str(getattr(t, attr)), []).append(t)
    return [Breakdown(k, len(v), sum(t.net_pnl_micros for t in v), sum(t.fees_micros for t in v))
            for k, v in sorted(groups.items())]


def samples(run: RunOutputs) -> list[Sample]:
    """The run's model probabilities before each event's end, with the market's and the outcome (see module doc)."""
    winners: dict[str, str] = {}
    final_ts: dict[str, int] = {}
    status_of: dict[str, EventStatus] = {}
    for si in run.shard_inputs:
        st = si.state
        if st is None:
            continue
        status_of[st.state_id] = st.status
        if st.status is EventStatus.FINAL and st.winner and st.event_id not in winners:
            winners[st.event_id], final_ts[st.event_id] = st.winner, st.ts
    links: dict[tuple[str, str], tuple[str, str]] = {}  # (venue, market) -> (event, yes role)
    books: dict[tuple[str, str], float] = {}  # (venue, market) -> latest yes mid
    inputs = sorted(run.shard_inputs, key=lambda s: s.ts)
    probs = sorted(run.probabilities, key=lambda p: p.ts)
    out: list[Sample] = []
    j = 0
    for p in probs:
        while j < len(inputs) and inputs[j].ts <= p.ts:
            si = inputs[j]
            if si.quote is not None and si.link is not None:
                key = (si.quote.venue.value, si.quote.market_id)
                links[key] = (si.link.event_id, si.link.yes_role)
                bid, ask = si.quote.yes_bid_micros, si.quote.yes_ask_micros
                if bid is not None and ask is not None:
                    books[key] = (bid + ask) / 2 / 1_000_000
            j += 1
        winner = winners.get(p.event_id)
        if winner is None or p.ts >= final_ts[p.event_id] or status_of.get(p.state_id) is EventStatus.FINAL:
            continue
        roles = ["a"] if set(p.outcomes) == {"a", "b"} else sorted(p.outcomes)
        for role in roles:
            quoted = []
            for key, mid in sorted(books.items()):
                event, yes = links[key]
                if event == p.event_id and yes == role:
                    quoted.append(mid)
                elif event == p.event_id and len(p.outcomes) == 2 and yes in p.outcomes:
                    quoted.append(1 - mid)  # the market backs the other of two outcomes
            market = statistics.fmean(quoted) if quoted else None
            out.append(Sample(p.ts, p.event_id, role, float(p.outcomes[role]), market, int(winner == role)))
    return out


def brier(ps: Sequence[float], ys: Sequence[int]) -> float | None:
    return statistics.fmean((p - y) ** 2 for p, y in zip(ps, ys)) if ps else None


def logloss(ps: Sequence[float], ys: Sequence[int]) -> float | None:
    if not ps:
        return None
    clip = [min(max(p, LOG_FLOOR), 1 - LOG_FLOOR) for p in ps]
    return -statistics.fmean(math.log(p) if y else math.log(1 - p) for p, y in zip(clip, ys))


def reliability(ps: Sequence[float], ys: Sequence[int], bins: int = 10) -> list[Bin]:
    """Deciles of predicted probability: count, mean prediction, observed frequency (None where empty)."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, p in enumerate(ps) if lo <= p < hi or (b == bins - 1 and p == 1.0)]
        out.append(Bin(lo, hi, len(idx), statistics.fmean(ps[i] for i in idx) if idx else None,
                       statistics.fmean(ys[i] for i in idx) if idx else None))
    return out


def calibration(scored: Sequence[Sample]) -> Calibration:
    paired = [s for s in scored if s.market_p is not None]
    mp = [s.model_p for s in paired]
    kp = [float(s.market_p) for s in paired]  # type: ignore[arg-type]
    ys = [s.happened for s in paired]
    return Calibration(
        samples=len(scored), paired=len(paired),
        model_brier=brier([s.model_p for s in scored], [s.happened for s in scored]),
        model_brier_paired=brier(mp, ys), market_brier_paired=brier(kp, ys),
        model_logloss_paired=logloss(mp, ys), market_logloss_paired=logloss(kp, ys),
        model_bins=reliability([s.model_p for s in scored], [s.happened for s in scored]),
        market_bins=reliability(kp, ys),
    )


def figures(run: RunOutputs, account: str, trades: Sequence[Trade], path: Sequence[EquityPoint],
            scored: Sequence[Sample]) -> Figures:
    start = next((e.balance_micros for e in run.ledger if e.account == account), 0)
    final = path[-1].equity_micros if path else start
    fills = [f for f in run.fills if isinstance(f, Fill) and f.account == account and not f.reversed]
    turnover = sum(round(f.count * f.price_micros) for f in fills)
    closed = [t for t in trades if t.closed]
    events: list[EventFigures] = []
    for ev in sorted({t.event_id for t in trades}):
        mine = [t for t in trades if t.event_id == ev]
        returns = [r for r in (t.realized_return for t in mine) if r is not None]
        events.append(EventFigures(ev, len(mine), sum(t.net_pnl_micros for t in mine), _sharpe(returns)))
    dd = drawdowns(path)
    return Figures(
        start_balance_micros=start, final_equity_micros=final, net_pnl_micros=final - start,
        realized_pnl_micros=sum(t.gross_pnl_micros for t in closed),
        unrealized_pnl_micros=sum(t.gross_pnl_micros for t in trades if not t.closed),
        fees_micros=sum(f.fee_micros for f in fills),
        return_on_bankroll=(final - start) / start if start else 0.0,
        max_drawdown=min(dd, default=0.0),
        trades=len(trades), closed_trades=len(closed),
        hit_rate=sum(1 for t in closed if t.net_pnl_micros > 0) / len(closed) if closed else None,
        fills=len(fills), turnover_micros=turnover, turnover_ratio=turnover / start if start else 0.0,
        signals=len(run.signals), orders=len([o for o in run.orders if o.account == account]),
        sharpe_like_across_events=_sharpe([e.net_pnl_micros / start for e in events]) if start else None,
        events=events,
        by_market_type=breakdown(trades, "market_type"), by_venue=breakdown(trades, "venue"),
        by_league=breakdown(trades, "league"),
        calibration=calibration(scored),
    )

