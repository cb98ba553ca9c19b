"""Venue trade lifecycle → Fill records, pure.

A CLOB match is only final once it settles on chain. Trade statuses
(docs.polymarket.com, "Trades" / user-channel trade messages): MATCHED → MINED
→ CONFIRMED, with RETRYING while a settlement transaction is re-sent and FAILED
when it never lands. We book the fill at first sight (MATCHED) so risk sees the
exposure at once, and emit the same fill again with `reversed=True` if the trade
later FAILS, so positions and the ledger undo it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from connectors.polymarket.errors import BadPayload, TradeStateError
from connectors.polymarket.messages import to_micros
from schemas.enums import TradingMode, Venue
from schemas.records import Fill, Order


class TradeStatus(str, Enum):
    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"


_NEXT: dict[TradeStatus, set[TradeStatus]] = {
    TradeStatus.MATCHED: {TradeStatus.MINED, TradeStatus.CONFIRMED, TradeStatus.RETRYING, TradeStatus.FAILED},
    TradeStatus.MINED: {TradeStatus.CONFIRMED, TradeStatus.RETRYING, TradeStatus.FAILED},
    TradeStatus.RETRYING: {TradeStatus.MINED, TradeStatus.CONFIRMED, TradeStatus.RETRYING, TradeStatus.FAILED},
    TradeStatus.CONFIRMED: set(),
    TradeStatus.FAILED: set(),
}


@dataclass(frozen=True)
class TradeLeg:
    """Our side of a trade: which of our venue orders filled, how much, at what price."""

    venue_order_id: str
    price_micros: int
    count: float
    liquidity: str  # "taker" or "maker"


@dataclass(frozen=True)
class VenueTrade:
    trade_id: str
    status: TradeStatus
    ts: int  # epoch ms of the last status change
    legs: tuple[TradeLeg, ...]


def parse_trade(obj: Any, our_order_ids: set[str]) -> VenueTrade:
    """A /data/trades item (or user-channel trade) reduced to the legs that are ours."""
    if not isinstance(obj, dict):
        raise BadPayload("trade is not an object")
    try:
        status = TradeStatus(str(obj["status"]).upper())
        ts_s = obj.get("last_update") or obj.get("match_time")
        if ts_s is None:
            raise BadPayload("trade has neither last_update nor match_time")
        legs: list[TradeLeg] = []
        taker_id = str(obj.get("taker_order_id", ""))
        if taker_id in our_order_ids:
            legs.append(TradeLeg(taker_id, to_micros(obj["price"]), round(float(obj["size"]), 2), "taker"))
        for mo in obj.get("maker_orders") or []:
            oid = str(mo.get("order_id", ""))
            if oid in our_order_ids:
                legs.append(TradeLeg(oid, to_micros(mo["price"]), round(float(mo["matched_amount"]), 2), "maker"))
        return VenueTrade(str(obj["id"]), status, int(ts_s) * 1000, tuple(legs))
    except (KeyError, ValueError, TypeError) as exc:
        raise BadPayload(f"malformed trade: {exc}") from exc


FeeFn = Callable[[Order, int, float, str], int]
"""(order, price_micros, count, liquidity) → total fee in micros; wired to streams/fees by the caller."""


@dataclass
class TradeTracker:
    """Trade statuses seen so far and the fills already emitted for them."""

    orders: dict[str, Order] = field(default_factory=dict)  # venue order id → our order
    statuses: dict[str, TradeStatus] = field(default_factory=dict)
    emitted: dict[str, Fill] = field(default_factory=dict)  # fill_id → fill

    closed: set[str] = field(default_factory=set)  # venue order ids whose end is known (trades still read)

    def register(self, venue_order_id: str, order: Order) -> None:
        self.orders[venue_order_id] = order

    def open_orders(self) -> dict[str, Order]:
        return {k: v for k, v in self.orders.items() if k not in self.closed}

    def close(self, venue_order_id: str) -> None:
        self.closed.add(venue_order_id)

    def on_trade(self, trade: VenueTrade, fee: FeeFn) -> list[Fill]:
        prev = self.statuses.get(trade.trade_id)
        if prev is trade.status:
            return []
        if prev is not None and trade.status not in _NEXT[prev]:
            raise TradeStateError(f"trade {trade.trade_id}: {prev.value} → {trade.status.value} is not allowed")
        self.statuses[trade.trade_id] = trade.status
        out: list[Fill] = []
        for leg in trade.legs:
            order = self.orders.get(leg.venue_order_id)
            if order is None:
                continue
            fill_id = f"POLYMARKET:{trade.trade_id}:{leg.venue_order_id}"
            booked = self.emitted.get(fill_id)
            if trade.status is TradeStatus.FAILED:
                if booked is not None and not booked.reversed:
                    reversal = Fill(**{**booked.__dict__, "ts": trade.ts, "reversed": True})
                    self.emitted[fill_id] = reversal
                    out.append(reversal)
            elif booked is None:
                fill = Fill(
                    fill_id=fill_id,
                    order_id=order.order_id,
                    account=order.account,
                    ts=trade.ts,
                    mode=TradingMode.LIVE,
                    venue=Venue.POLYMARKET,
                    market_id=order.market_id,
                    event_id=order.event_id,
                    side=order.side,
                    action=order.action,
                    price_micros=leg.price_micros,
                    count=leg.count,
                    fee_micros=fee(order, leg.price_micros, leg.count, leg.liquidity),
                    liquidity=leg.liquidity,
                    venue_fill_id=trade.trade_id,
                )
                self.emitted[fill_id] = fill
                out.append(fill)
        return out
