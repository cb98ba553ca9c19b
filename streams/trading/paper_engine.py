"""Paper fills against the book: walk levels, partial fills, venue fees, never past the limit.

Paper fills at the limit price with unlimited size make any strategy look
brilliant, so an order here takes only what the book showed: the latest book of
its market as of the order's event time plus a configurable latency, level by
level, best first, stopping at the limit price. IOC keeps what it got and cancels
the rest; FOK fills completely or not at all; the paper engine never rests an
order, so GTC behaves as IOC and says so. Fees are charged per fill as the venue
does (streams.fees.fill_fees_micros): Kalshi rounds each fill with its per-order
carry, Polymarket's order fee is split across the fills.
Fill ids are the order id plus the level index, so re-running an order against the
same book reproduces the same fill set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from schemas.enums import Action, OrderState, Side, TimeInForce, TradingMode
from schemas import depth
from schemas.records import Fill, Order, OrderStatus, Quote
from streams.fees import FeeSchedule, fill_fees_micros
from streams.trading.ids import paper_fill_id
from streams.trading.units import Contracts, Micros


@dataclass(frozen=True)
class PaperResult:
    fills: tuple[Fill, ...]
    status: OrderStatus

    @property
    def filled(self) -> Contracts:
        return sum((Contracts.of(f.count) for f in self.fills), Contracts(0))


def book_as_of(history: Sequence[Quote], t: int) -> Quote | None:
    """The latest book (by ts, seq) at or before event time `t`."""
    best: Quote | None = None
    for q in history:
        if q.ts <= t and (best is None or (q.ts, q.seq) >= (best.ts, best.seq)):
            best = q
    return best


def ladder(quote: Quote, side: Side, action: Action) -> list[tuple[int, Contracts]]:
    """The levels an order takes, (price micro-dollars, size): asks of its side to buy, bids of
    its side to sell, best first (`schemas.depth.ladder`; a quote without depth is its top of book).
    """
    prices, c100 = depth.ladder(quote, side, action)
    levels = [(p, Contracts(c)) for p, c in zip(prices.tolist(), c100.tolist()) if c > 0]
    return sorted(levels, key=(lambda lv: lv[0]) if action is Action.BUY else (lambda lv: -lv[0]))


def _within(price: int, limit: int, action: Action) -> bool:
    return price <= limit if action is Action.BUY else price >= limit


def status_of(order: Order, state: OrderState, ts: int, filled: Contracts, avg: int | None, reason: str,
              venue_order_id: str | None = None) -> OrderStatus:
    remaining = Contracts.of(order.count) - filled
    return OrderStatus(
        status_id=f"{order.order_id}:{state.value}",
        order_id=order.order_id,
        account=order.account,
        state=state,
        ts=ts,
        filled_count=filled.count,
        remaining_count=max(remaining.count, 0.0),
        avg_price_micros=avg,
        reason=reason,
        venue_order_id=venue_order_id,
    )


def execute(order: Order, book: Quote | None, fees: FeeSchedule | None, latency_ms: int) -> PaperResult:
    """Fill `order` against `book` (already chosen as of order.ts + latency)."""
    at = order.ts + latency_ms
    if book is None:
        return PaperResult((), status_of(order, OrderState.REJECTED, at, Contracts(0), None,
                                         f"paper: no book for {order.venue.value}:{order.market_id} as of {at}"))
    if fees is None:
        return PaperResult((), status_of(order, OrderState.REJECTED, at, Contracts(0), None,
                                         f"paper: no fee schedule (listing) for {order.venue.value}:{order.market_id}"))
    want = Contracts.of(order.count)
    takes: list[tuple[int, Contracts, int]] = []  # (price, count, level index)
    left = want
    for i, (price, size) in enumerate(ladder(book, order.side, order.action)):
        if not left.is_positive() or not _within(price, order.limit_price_micros, order.action):
            break
        take = left.min(size)
        takes.append((price, take, i))
        left = left - take
    got = want - left
    if not got.is_positive() or (order.tif is TimeInForce.FOK and left.is_positive()):
        why = (f"FOK: book had {got} of {want} within limit {Micros(order.limit_price_micros)}"
               if got.is_positive() else f"nothing within limit {Micros(order.limit_price_micros)} on the book of {book.quote_id}")
        return PaperResult((), status_of(order, OrderState.CANCELED, at, Contracts(0), None, f"paper: {why}"))
    fills: list[Fill] = []
    notional = 0
    fill_fees = fill_fees_micros(fees, [(p, c.count) for p, c, _ in takes], buy=order.action is Action.BUY)
    for (price, take, i), fee in zip(takes, fill_fees):
        fills.append(Fill(
            fill_id=paper_fill_id(order.order_id, i),
            order_id=order.order_id,
            account=order.account,
            ts=at,
            mode=TradingMode.PAPER,
            venue=order.venue,
            market_id=order.market_id,
            event_id=order.event_id,
            side=order.side,
            action=order.action,
            price_micros=price,
            count=take.count,
            fee_micros=fee,
            liquidity="taker",
            venue_fill_id=None,
        ))
        notional += take.cost(Micros(price)).value
    avg = notional * 100 // got.centi
    if left.is_positive():
        tail = " (paper never rests GTC orders)" if order.tif is TimeInForce.GTC else ""
        # terminal: a canceled order with fills, as venues report an IOC remainder
        status = status_of(order, OrderState.CANCELED, at, got, avg,
                           f"paper: {got} of {want} filled against {book.quote_id}; remainder canceled{tail}")
    else:
        status = status_of(order, OrderState.FILLED, at, got, avg, f"paper: filled against {book.quote_id}")
    return PaperResult(tuple(fills), status)
