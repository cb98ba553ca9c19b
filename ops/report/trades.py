"""What a run traded, read from the engines' outputs: round-trip trades and the equity path.

The report reads a run through `RunOutputs`, the few output lists every engine's
`BacktestResult` has (orders, fills, positions, ledger, signals, shard inputs,
probabilities); it never runs or changes an engine. Money stays in integer
micro-dollars here; the figures module turns it into ratios.

A trade is one position's life from the fill that opens it (quantity up from
zero) to the event that takes it back to zero (a sale or the settlement), on
the positions processor's own numbers: its realized P&L and fees are running
totals per position id, so a trade's share is the difference across its life.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas.enums import PositionStatus, Side
from schemas.records import Fill, LedgerEntry, Order, OrderStatus, PositionEvent, Probability, ShardInput, Signal


class RunOutputs(Protocol):
    """The outputs of a backtest run the report reads (ops.backtest.records.BacktestResult has them all)."""

    orders: list[Order]
    fills: list[Fill | OrderStatus]
    positions: list[PositionEvent]
    ledger: list[LedgerEntry]
    signals: list[Signal]
    shard_inputs: list[ShardInput]
    probabilities: list[Probability]


@dataclass(frozen=True)
class Trade:
    """One round trip; `exit_kind` is take_profit, stop_loss, sold, settled or open (still held at the end)."""

    trade_id: str
    event_id: str
    venue: str
    market_id: str
    side: str
    market_type: str
    league: str
    entry_ts: int
    exit_ts: int | None
    exit_kind: str
    quantity: float
    entry_price_micros: int
    exit_price_micros: int | None
    cost_micros: int  # quantity x average entry price
    gross_pnl_micros: int  # realized (or marked, when open) before fees
    fees_micros: int
    model_p: float | None  # the model's probability of the held side at entry (the entry order's)
    market_p: float | None  # the market's: mid of the held side's book at entry
    edge: float | None  # the entry signal's edge: model p minus all-in cost

    @property
    def net_pnl_micros(self) -> int:
        return self.gross_pnl_micros - self.fees_micros

    @property
    def realized_return(self) -> float | None:
        return self.net_pnl_micros / self.cost_micros if self.cost_micros > 0 else None

    @property
    def closed(self) -> bool:
        return self.exit_kind != "open"


@dataclass(frozen=True)
class EquityPoint:
    ts: int
    balance_micros: int  # ledger balance: bankroll + realized - fees
    unrealized_micros: int  # open positions marked to their side's best bid

    @property
    def equity_micros(self) -> int:
        return self.balance_micros + self.unrealized_micros


def side_mid(si: ShardInput, side: str) -> float | None:
    """Mid of one side's top of book, as a probability; None without both a bid and an ask."""
    q = si.quote
    if q is None:
        return None
    bid, ask = (q.yes_bid_micros, q.yes_ask_micros) if side == Side.YES.value else (q.no_bid_micros, q.no_ask_micros)
    if bid is None or ask is None:
        return None
    return (bid + ask) / 2 / 1_000_000


def side_bid(si: ShardInput, side: str) -> int | None:
    q = si.quote
    if q is None:
        return None
    return q.yes_bid_micros if side == Side.YES.value else q.no_bid_micros


def event_labels(run: RunOutputs) -> dict[str, tuple[str, str]]:
    """Market type and league per event, from the states (else the listings) the run read."""
    out: dict[str, tuple[str, str]] = {}
    for si in run.shard_inputs:
        if si.state is not None:
            out[si.event_id] = (si.state.market_type.value, si.state.league or "-")
    for si in run.shard_inputs:
        if si.event_id not in out and si.listing is not None:
            out[si.event_id] = (si.listing.market_type.value, si.listing.league or "-")
    return out


def _mids_at(run: RunOutputs) -> dict[tuple[str, str, str], list[tuple[int, float]]]:
    """(venue, market, side) -> [(ts, mid)] in input order."""
    out: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for si in run.shard_inputs:
        if si.quote is None:
            continue
        for side in (Side.YES.value, Side.NO.value):
            mid = side_mid(si, side)
            if mid is not None:
                out.setdefault((si.quote.venue.value, si.quote.market_id, side), []).append((si.ts, mid))
    return out


def _latest(path: list[tuple[int, float]], ts: int) -> float | None:
    best = None
    for t, v in path:
        if t > ts:
            break
        best = v
    return best


@dataclass
class _Open:
    """A trade being followed: its opening event, the position's running totals before it, its entry."""

    n: int
    first: PositionEvent
    base_realized: int
    base_fees: int
    qty: float
    avg: int
    model_p: float | None
    market_p: float | None
    edge: float | None
    kind: str = ""


def trades(run: RunOutputs, account: str) -> list[Trade]:
    """The account's round trips in the order they opened, with the entry's model and market probabilities."""
    fills = {f.fill_id: f for f in run.fills if isinstance(f, Fill) and f.account == account}
    orders = {o.order_id: o for o in run.orders if o.account == account}
    signals = {s.signal_id: s for s in run.signals}
    labels = event_labels(run)
    mids = _mids_at(run)
    out: list[Trade] = []
    open_: dict[str, _Open] = {}
    last: dict[str, PositionEvent] = {}
    counts: dict[str, int] = {}
    for ev in run.positions:
        if ev.account != account:
            continue
        pid = ev.position_id
        cur = open_.get(pid)
        if cur is None and ev.quantity > 0:
            prev = last.get(pid)
            counts[pid] = counts.get(pid, 0) + 1
            fill = fills.get(ev.position_event_id[len(pid) + 1:])  # a fill's event id is "<position id>:<fill id>"
            order = orders.get(fill.order_id) if fill is not None else None
            signal = signals.get(order.signal_id) if order is not None else None
            cur = open_[pid] = _Open(
                counts[pid], ev, prev.realized_pnl_micros if prev else 0, prev.fees_micros if prev else 0,
                ev.quantity, ev.avg_price_micros, order.model_p if order is not None else None,
                _latest(mids.get((ev.venue.value, ev.market_id, ev.side.value), []), ev.ts),
                signal.edge if signal is not None else None)
        last[pid] = ev
        if cur is None:
            continue
        if ev.quantity > cur.qty:
            cur.qty, cur.avg = ev.quantity, ev.avg_price_micros
        if ev.status in (PositionStatus.TAKE_PROFIT, PositionStatus.STOP_LOSS):
            cur.kind = ev.status.value.lower()
        if ev.status is PositionStatus.SETTLED or ev.quantity <= 0:
            kind = "settled" if ev.status is PositionStatus.SETTLED else (cur.kind or "sold")
            out.append(_trade(cur, ev, kind, labels))
            del open_[pid]
    for pid, cur in open_.items():
        out.append(_trade(cur, last[pid], "open", labels))
    return sorted(out, key=lambda t: (t.entry_ts, t.trade_id))


def _trade(cur: _Open, end: PositionEvent, kind: str, labels: dict[str, tuple[str, str]]) -> Trade:
    first = cur.first
    gross = end.realized_pnl_micros - cur.base_realized
    if kind == "open":
        gross += end.unrealized_pnl_micros
    exit_price = None if kind == "open" or cur.qty <= 0 else round(cur.avg + gross / cur.qty)
    mtype, league = labels.get(first.event_id, ("-", "-"))
    return Trade(
        trade_id=f"{first.position_id}#{cur.n}", event_id=first.event_id, venue=first.venue.value,
        market_id=first.market_id, side=first.side.value, market_type=mtype, league=league, entry_ts=first.ts,
        exit_ts=None if kind == "open" else end.ts, exit_kind=kind, quantity=cur.qty, entry_price_micros=cur.avg,
        exit_price_micros=exit_price, cost_micros=round(cur.qty * cur.avg), gross_pnl_micros=gross,
        fees_micros=end.fees_micros - cur.base_fees, model_p=cur.model_p, market_p=cur.market_p, edge=cur.edge,
    )


def equity_path(run: RunOutputs, account: str) -> list[EquityPoint]:
    """Balance plus open positions marked to their side's best bid, at every ledger entry and every quote of a held
    market, in event time (ties: the record order the engine produced)."""
    steps: list[tuple[int, int, int, LedgerEntry | PositionEvent | ShardInput]] = []
    for i, e in enumerate(run.ledger):
        if e.account == account:
            steps.append((e.ts, 0, i, e))
    for i, pe in enumerate(run.positions):
        if pe.account == account:
            steps.append((pe.ts, 1, i, pe))
    for i, si in enumerate(run.shard_inputs):
        if si.quote is not None:
            steps.append((si.ts, 2, i, si))
    steps.sort(key=lambda s: (s[0], s[1], s[2]))
    balance = 0
    held: dict[str, PositionEvent] = {}
    bids: dict[tuple[str, str, str], int] = {}
    out: list[EquityPoint] = []

    def marked() -> int:
        total = 0
        for p in held.values():
            bid = bids.get((p.venue.value, p.market_id, p.side.value))
            if bid is not None:
                total += round(p.quantity * (bid - p.avg_price_micros))
        return total

    for ts, kind, _, rec in steps:
        if isinstance(rec, LedgerEntry):
            balance = rec.balance_micros
        elif isinstance(rec, PositionEvent):
            if rec.quantity > 0 and rec.status is not PositionStatus.SETTLED:
                held[rec.position_id] = rec
            else:
                held.pop(rec.position_id, None)
        elif rec.quote is not None:
            changed = False
            for side in (Side.YES.value, Side.NO.value):
                bid = side_bid(rec, side)
                key = (rec.quote.venue.value, rec.quote.market_id, side)
                if bid is not None and bids.get(key) != bid:
                    bids[key] = bid
                    changed = changed or any((h.venue.value, h.market_id, h.side.value) == key for h in held.values())
            if not changed:
                continue
        point = EquityPoint(ts, balance, marked())
        if out and out[-1].ts == ts:
            out[-1] = point
        elif not out or out[-1].equity_micros != point.equity_micros or kind == 0:
            out.append(point)
    end = max((s[0] for s in steps), default=None)
    if out and end is not None and end > out[-1].ts:  # the path runs to the run's last record, flat or not
        out.append(EquityPoint(end, out[-1].balance_micros, out[-1].unrealized_micros))
    return out

