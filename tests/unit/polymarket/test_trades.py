from __future__ import annotations

import pytest

from connectors.polymarket.errors import TradeStateError
from connectors.polymarket.trades import TradeTracker, parse_trade
from schemas.enums import Action, Side
from schemas.records import Order

ORDER = Order(order_id="sig-9:0", account="acct", ts=1, market_id="0x18b5", event_id="ev", side=Side.YES,
              action=Action.BUY, limit_price_micros=510_000, count=10.0)


def trade(status: str, update: int) -> dict[str, object]:
    # field names of the CLOB trade object (docs.polymarket.com, GET /data/trades)
    return {"id": "t-1", "taker_order_id": "0xours", "market": "0x18b5", "asset_id": "6387", "side": "BUY",
            "size": "10", "price": "0.51", "status": status, "match_time": "1767554656", "last_update": str(update),
            "maker_orders": [{"order_id": "0xtheirs", "matched_amount": "10", "price": "0.51"}]}


def fee(order: Order, price: int, count: float, liquidity: str) -> int:
    return 3_000 if liquidity == "taker" else 0


def test_matched_then_failed_is_booked_then_reversed() -> None:
    tracker = TradeTracker()
    tracker.register("0xours", ORDER)
    fills = tracker.on_trade(parse_trade(trade("MATCHED", 1767554656), {"0xours"}), fee)
    assert len(fills) == 1 and not fills[0].reversed
    assert (fills[0].price_micros, fills[0].count, fills[0].fee_micros, fills[0].liquidity) == (510_000, 10.0, 3_000, "taker")
    assert tracker.on_trade(parse_trade(trade("MINED", 1767554660), {"0xours"}), fee) == []
    assert tracker.on_trade(parse_trade(trade("RETRYING", 1767554670), {"0xours"}), fee) == []
    rev = tracker.on_trade(parse_trade(trade("FAILED", 1767554700), {"0xours"}), fee)
    assert len(rev) == 1 and rev[0].reversed and rev[0].fill_id == fills[0].fill_id
    assert rev[0].count == 10.0 and rev[0].ts == 1767554700000


def test_confirmed_is_final_and_duplicates_are_ignored() -> None:
    tracker = TradeTracker()
    tracker.register("0xours", ORDER)
    assert len(tracker.on_trade(parse_trade(trade("CONFIRMED", 1767554656), {"0xours"}), fee)) == 1
    assert tracker.on_trade(parse_trade(trade("CONFIRMED", 1767554656), {"0xours"}), fee) == []
    with pytest.raises(TradeStateError):
        tracker.on_trade(parse_trade(trade("FAILED", 1767554700), {"0xours"}), fee)


def test_failed_without_a_booked_fill_emits_nothing() -> None:
    tracker = TradeTracker()
    tracker.register("0xours", ORDER)
    assert tracker.on_trade(parse_trade(trade("FAILED", 1767554700), {"0xours"}), fee) == []


def test_our_maker_leg_is_found() -> None:
    legs = parse_trade(trade("MATCHED", 1), {"0xtheirs"}).legs
    assert [(leg.venue_order_id, leg.liquidity) for leg in legs] == [("0xtheirs", "maker")]
