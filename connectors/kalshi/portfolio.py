"""Kalshi portfolio payloads (orders, fills, positions, balance) as typed values and contract records.

Shapes: the recorded answers in tests/fixtures/kalshi (order_create_response.json,
order_cancel_response.json, portfolio_fills_demo.json, portfolio_positions_demo.json)
and the OpenAPI schemas `Order`, `Fill`, `MarketPosition`, `GetBalanceResponse`.
Older payloads carry integer cents and counts (`yes_price`, `count`,
`yes_price_fixed`); newer ones fixed-point strings (`yes_price_dollars`,
`count_fp`). Both are read, the fixed-point form first. Pure functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.kalshi import fixedpoint as fp
from connectors.kalshi.errors import BadPayload
from connectors.kalshi.messages import rfc3339_ms
from schemas.enums import Action, OrderState, Side, TradingMode, Venue
from schemas.records import Fill, OrderStatus


def _side(v: Any, where: str) -> Side:
    if v in ("yes", "no"):
        return Side.YES if v == "yes" else Side.NO
    raise BadPayload(where, f"expected 'yes'/'no', got {v!r}")


def _action(v: Any, where: str) -> Action:
    if v in ("buy", "sell"):
        return Action.BUY if v == "buy" else Action.SELL
    raise BadPayload(where, f"expected 'buy'/'sell', got {v!r}")


def _count(d: dict[str, Any], fp_key: str, int_key: str, where: str, *, signed: bool = False) -> int:
    if d.get(fp_key) not in (None, ""):
        return fp.count_to_centi(d[fp_key], f"{where}.{fp_key}", signed=signed)
    v = d.get(int_key)
    if isinstance(v, int) and not isinstance(v, bool):
        return v * 100
    raise BadPayload(f"{where}.{fp_key}", f"missing (and no integer {int_key})")


def _price(d: dict[str, Any], keys: tuple[str, ...], cents_key: str, where: str) -> int | None:
    for k in keys:
        if d.get(k) not in (None, ""):
            return fp.price_to_micros(d[k], f"{where}.{k}")
    if isinstance(d.get(cents_key), int):
        return fp.cents_to_micros(d[cents_key], f"{where}.{cents_key}")
    return None


def _dollars(d: dict[str, Any], key: str, cents_key: str, where: str) -> int:
    if d.get(key) not in (None, ""):
        return fp.dollars_to_micros(d[key], f"{where}.{key}")
    v = d.get(cents_key)
    if isinstance(v, int) and not isinstance(v, bool):
        return v * 10_000
    return 0


@dataclass(frozen=True)
class VenueOrder:
    order_id: str
    client_order_id: str | None
    ticker: str
    side: Side
    action: Action
    status: str
    yes_price_micros: int | None
    no_price_micros: int | None
    initial_centi: int
    filled_centi: int
    remaining_centi: int
    created_ts: int | None
    updated_ts: int | None
    taker_fees_micros: int
    maker_fees_micros: int

    @property
    def price_micros(self) -> int | None:
        """The limit price on the order's own side."""
        return self.yes_price_micros if self.side is Side.YES else self.no_price_micros


def parse_order(payload: dict[str, Any], where: str = "order") -> VenueOrder:
    o = payload.get("order", payload) if isinstance(payload, dict) else None
    if not isinstance(o, dict):
        raise BadPayload(where, "expected an object")
    order_id = o.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise BadPayload(f"{where}.order_id", "missing")
    filled = _count(o, "fill_count_fp", "fill_count", where)
    remaining = _count(o, "remaining_count_fp", "remaining_count", where)
    initial = _count(o, "initial_count_fp", "initial_count", where) if ("initial_count_fp" in o or "initial_count" in o) else filled + remaining
    return VenueOrder(
        order_id=order_id,
        client_order_id=o.get("client_order_id") or None,
        ticker=str(o.get("ticker", "")),
        side=_side(o.get("side"), f"{where}.side"),
        action=_action(o.get("action"), f"{where}.action"),
        status=str(o.get("status", "")),
        yes_price_micros=_price(o, ("yes_price_dollars",), "yes_price", where),
        no_price_micros=_price(o, ("no_price_dollars",), "no_price", where),
        initial_centi=initial,
        filled_centi=filled,
        remaining_centi=remaining,
        created_ts=rfc3339_ms(o["created_time"], f"{where}.created_time") if o.get("created_time") else None,
        updated_ts=rfc3339_ms(o["last_update_time"], f"{where}.last_update_time") if o.get("last_update_time") else None,
        taker_fees_micros=_dollars(o, "taker_fees_dollars", "taker_fees", where),
        maker_fees_micros=_dollars(o, "maker_fees_dollars", "maker_fees", where),
    )


def order_state(order: VenueOrder) -> OrderState:
    """Kalshi statuses (`resting`, `canceled`, `executed`, `pending`) as our OrderState."""
    if order.status == "executed":
        return OrderState.FILLED
    if order.status == "canceled":
        return OrderState.CANCELED
    if order.status == "resting":
        return OrderState.PARTIALLY_FILLED if order.filled_centi > 0 else OrderState.RESTING
    if order.status == "pending":
        return OrderState.PENDING
    return OrderState.UNKNOWN


def to_order_status(order: VenueOrder, *, our_order_id: str, account: str, ts: int, reason: str = "") -> OrderStatus:
    state = order_state(order)
    return OrderStatus(
        status_id=f"kalshi:{order.order_id}:{state.value}:{order.filled_centi}:{order.remaining_centi}",
        order_id=our_order_id,
        account=account,
        state=state,
        ts=ts,
        filled_count=fp.centi_to_contracts(order.filled_centi),
        remaining_count=fp.centi_to_contracts(order.remaining_centi),
        avg_price_micros=None,  # the order object carries no average fill price; fills do
        reason=reason or f"kalshi status {order.status}",
        venue_order_id=order.order_id,
    )


@dataclass(frozen=True)
class VenueFill:
    fill_id: str
    order_id: str
    ticker: str
    side: Side
    action: Action
    yes_price_micros: int
    no_price_micros: int
    count_centi: int
    is_taker: bool
    fee_micros: int | None  # None when the payload predates `fee_cost`
    ts: int

    @property
    def price_micros(self) -> int:
        return self.yes_price_micros if self.side is Side.YES else self.no_price_micros


def parse_fill(f: dict[str, Any], where: str = "fill") -> VenueFill:
    if not isinstance(f, dict):
        raise BadPayload(where, "expected an object")
    fill_id = f.get("fill_id") or f.get("trade_id")
    if not isinstance(fill_id, str) or not fill_id:
        raise BadPayload(f"{where}.fill_id", "missing")
    yes = _price(f, ("yes_price_dollars", "yes_price_fixed"), "yes_price", where)
    no = _price(f, ("no_price_dollars", "no_price_fixed"), "no_price", where)
    if yes is None and no is None:
        raise BadPayload(f"{where}.yes_price_dollars", "no price on the fill")
    yes = yes if yes is not None else fp.ONE_DOLLAR_MICROS - (no or 0)
    no = no if no is not None else fp.ONE_DOLLAR_MICROS - yes
    if isinstance(f.get("ts"), int):
        ts = f["ts"] * 1000  # unix seconds (legacy field name)
    elif f.get("created_time"):
        ts = rfc3339_ms(f["created_time"], f"{where}.created_time")
    else:
        raise BadPayload(f"{where}.ts", "no time on the fill")
    return VenueFill(
        fill_id=fill_id,
        order_id=str(f.get("order_id", "")),
        ticker=str(f.get("ticker") or f.get("market_ticker") or ""),
        side=_side(f.get("side") or f.get("outcome_side"), f"{where}.side"),
        action=_action(f.get("action", "buy"), f"{where}.action"),
        yes_price_micros=yes,
        no_price_micros=no,
        count_centi=_count(f, "count_fp", "count", where),
        is_taker=bool(f.get("is_taker", False)),
        fee_micros=fp.dollars_to_micros(f["fee_cost"], f"{where}.fee_cost") if f.get("fee_cost") not in (None, "") else None,
        ts=ts,
    )


FillFeeFn = Callable[[int, float, float], int]
"""(price micros, contracts, rate) → one fill's fee in micros; the caller wires in
`streams.fees.kalshi.trade_fee_centicent_micros` (connectors never import streams)."""


def expected_fee_micros(fill: VenueFill, rate: float, fee_fn: FillFeeFn) -> int:
    """The fill's trade fee by Kalshi's schedule, as `fee_fn` computes it.

    Older fill payloads (the recorded demo fill) carry no `fee_cost`; this is the
    published fee for them, and a check against the venue's figure for newer ones.
    The fee's price is the one the contract was bought at; P·(1−P) is the same on
    either side.
    """
    return int(fee_fn(fill.price_micros, fp.centi_to_contracts(fill.count_centi), rate))


def to_fill(
    fill: VenueFill,
    *,
    our_order_id: str,
    account: str,
    event_id: str = "",
    fee_rate: float | None = None,
    fee_fn: FillFeeFn | None = None,
) -> Fill:
    """A venue fill as the contract's Fill; `fill_id` comes from the venue id, so replays dedupe.

    The venue's `fee_cost` is used when present; otherwise `fee_rate` (the listing's
    taker or maker rate, by `is_taker`) and `fee_fn` must be given and the published
    fee is computed.
    """
    fee = fill.fee_micros
    if fee is None:
        if fee_rate is None or fee_fn is None:
            raise BadPayload(
                "fill.fee_cost", f"fill {fill.fill_id} has no fee_cost; pass the listing's fee rate and the fee function"
            )
        fee = expected_fee_micros(fill, fee_rate, fee_fn)
    return Fill(
        fill_id=f"kalshi:{fill.fill_id}",
        order_id=our_order_id,
        account=account,
        ts=fill.ts,
        mode=TradingMode.LIVE,
        venue=Venue.KALSHI,
        market_id=fill.ticker,
        event_id=event_id,
        side=fill.side,
        action=fill.action,
        price_micros=fill.price_micros,
        count=fp.centi_to_contracts(fill.count_centi),
        fee_micros=fee,
        liquidity="taker" if fill.is_taker else "maker",
        venue_fill_id=fill.fill_id,
    )


@dataclass(frozen=True)
class VenuePosition:
    ticker: str
    position_centi: int  # > 0 long YES, < 0 long NO (Kalshi's sign convention)
    exposure_micros: int
    realized_pnl_micros: int
    fees_paid_micros: int
    resting_orders: int

    @property
    def side(self) -> Side:
        return Side.YES if self.position_centi >= 0 else Side.NO


def parse_positions(payload: dict[str, Any]) -> list[VenuePosition]:
    rows = payload.get("market_positions")
    if not isinstance(rows, list):
        raise BadPayload("market_positions", "missing")
    out: list[VenuePosition] = []
    for i, p in enumerate(rows):
        w = f"market_positions[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("ticker"), str):
            raise BadPayload(w, "expected an object with a ticker")
        out.append(
            VenuePosition(
                ticker=p["ticker"],
                position_centi=_count(p, "position_fp", "position", w, signed=True),
                exposure_micros=_dollars(p, "market_exposure_dollars", "market_exposure", w),
                realized_pnl_micros=_dollars(p, "realized_pnl_dollars", "realized_pnl", w),
                fees_paid_micros=_dollars(p, "fees_paid_dollars", "fees_paid", w),
                resting_orders=int(p.get("resting_orders_count", 0) or 0),
            )
        )
    return out


@dataclass(frozen=True)
class Balance:
    balance_micros: int
    portfolio_value_micros: int | None
    updated_ts: int | None


def parse_balance(payload: dict[str, Any]) -> Balance:
    if not isinstance(payload, dict) or ("balance_dollars" not in payload and "balance" not in payload):
        raise BadPayload("balance", "missing")
    pv = payload.get("portfolio_value")
    return Balance(
        balance_micros=_dollars(payload, "balance_dollars", "balance", "balance"),
        portfolio_value_micros=pv * 10_000 if isinstance(pv, int) else None,
        updated_ts=payload["updated_ts"] * 1000 if isinstance(payload.get("updated_ts"), int) else None,
    )
