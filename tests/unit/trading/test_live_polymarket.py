"""Live Polymarket bookkeeping through the real client and adapter: fills come from the trades
endpoint (MATCHED booked, FAILED reversed all the way through positions and sizing), an order is
FILLED once its fills reach its size, the POST answer's matched amount is the status's filled count,
and a missed heartbeat turns resting orders UNKNOWN, each for its own account.

The venue here is an httpx MockTransport answering in the documented shapes (docs.polymarket.com:
post-a-new-order, GET /data/trades, send-heartbeat); no Polymarket trade was recorded, so the trade
objects are made up, with the field names of the CLOB trade object (as tests/unit/polymarket/test_trades.py)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from connectors.polymarket.trading import ClobTradingClient
from schemas.enums import Action, OrderState, Severity, Side, TimeInForce, TradingMode, Venue
from schemas.records import Alert, Fill, Order, OrderStatus
from streams.agents.live import PolymarketLive
from streams.trading.execution_processor import VenueUnknown
from streams.trading.positions_processor import PositionsProcessor
from streams.trading.sizing_processor import SizingProcessor
from tests.unit.polymarket.test_trading import ENV, LISTING

NOW = 1_767_554_656_215
ORDER = Order(order_id="sig-9:0", account="acct-9", ts=NOW, mode=TradingMode.LIVE, venue=Venue.POLYMARKET,
              market_id="0xc8f1", event_id="ev", side=Side.YES, action=Action.BUY, limit_price_micros=510_000,
              count=10.0, tif=TimeInForce.GTC)


class Venue_:
    """The CLOB as the client sees it (made-up answers in documented shapes)."""

    def __init__(self) -> None:
        self.trades: list[dict[str, Any]] = []
        self.beat_fails = False
        self.orders = 0
        self.beats = 0
        self.order_objects: dict[str, dict[str, Any]] = {}  # GET /data/order/{id}, fields as documented

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/order":
            self.orders += 1
            return httpx.Response(200, json={"success": True, "errorMsg": "", "orderID": f"0xours{self.orders}",
                                             "status": "live", "takingAmount": "", "makingAmount": ""})
        if request.url.path == "/v1/heartbeats":
            self.beats += 1
            return httpx.Response(500 if self.beat_fails else 200, json={"heartbeat_id": f"hb-{self.beats}"})
        if request.url.path == "/data/trades":
            return httpx.Response(200, json={"data": self.trades, "next_cursor": "LTE="})
        if request.url.path.startswith("/data/order/"):
            vid = request.url.path.rsplit("/", 1)[1]
            if vid not in self.order_objects:
                return httpx.Response(404, json={"error": "not found"})
            return httpx.Response(200, json={"id": vid, **self.order_objects[vid]})
        return httpx.Response(404)


def trade(status: str, update: int, order_id: str = "0xours1", tid: str = "t-1") -> dict[str, Any]:
    return {"id": tid, "taker_order_id": order_id, "market": "0xc8f1", "asset_id": LISTING.token_yes, "side": "BUY",
            "size": "10", "price": "0.51", "status": status, "match_time": "1767554660", "last_update": str(update),
            "maker_orders": [{"order_id": "0xtheirs", "matched_amount": "10", "price": "0.51"}]}


async def test_trades_book_fills_a_failed_trade_reverses_them_and_the_heartbeat_guards_resting_orders() -> None:
    venue = Venue_()
    async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as http:
        client = ClobTradingClient.from_env(ENV, http, base_url="http://clob.test", clock=lambda: NOW, salt=lambda: 42)
        live = PolymarketLive(client)
        listing = replace(LISTING, taker_fee_rate=0.02)
        answer = await live.submit(ORDER, listing)
        assert answer.status.state is OrderState.RESTING and answer.status.account == "acct-9"
        assert client.heartbeat.resting == {"sig-9:0"}

        venue.order_objects["0xours1"] = {"status": "ORDER_STATUS_LIVE", "original_size": "10", "size_matched": "0"}
        assert await live.tend(NOW - 5_000) == [] and venue.beats == 1  # resting, no trade yet: only the beat

        venue.trades = [trade("MATCHED", 1767554660)]
        venue.order_objects["0xours1"] = {"status": "MATCHED", "original_size": "10", "size_matched": "10"}
        got = await live.tend(NOW)
        assert venue.beats == 2  # an order rests: the dead-man switch is fed
        fills = [r for r in got if isinstance(r, Fill)]
        assert [(f.account, f.order_id, f.price_micros, f.count, f.liquidity, f.reversed) for f in fills] == [
            ("acct-9", "sig-9:0", 510_000, 10.0, "taker", False)]
        assert fills[0].fee_micros > 0  # the listing's taker schedule
        [filled] = [r for r in got if isinstance(r, OrderStatus)]
        assert filled.state is OrderState.FILLED and filled.filled_count == 10.0 and filled.account == "acct-9"
        assert client.heartbeat.resting == set()  # filled: no longer resting

        venue.trades = [trade("FAILED", 1767554700)]
        got = await live.tend(NOW + 40_000)
        assert venue.beats == 2  # nothing rests: no beat
        [rev] = [r for r in got if isinstance(r, Fill)]
        assert rev.reversed and rev.fill_id == fills[0].fill_id and rev.count == 10.0

        # the reversal undoes the fill in positions and sizing (their dedupe tells it from the fill)
        pos = PositionsProcessor()
        ps, _ = pos.step(pos.initial("acct-9"), fills[0])
        assert any(p.qty.is_positive() for p in ps.positions.values())
        ps, out = pos.step(ps, rev)
        assert out and not any(p.qty.is_positive() for p in ps.positions.values())
        sizing = SizingProcessor()
        ss, _ = sizing.step(sizing.initial("acct-9"), fills[0])
        assert ss.holdings
        ss, _ = sizing.step(ss, rev)
        assert ss.holdings == {}

        # a trade of this account for an order no one here placed (a previous worker's): said, not dropped
        venue.trades = [trade("MATCHED", 1767554710, order_id="0xbefore-restart", tid="t-2")]
        got = await live.tend(NOW + 45_000)
        assert [r for r in got if isinstance(r, Fill)] == []
        [unplaced] = [r for r in got if isinstance(r, Alert)]
        assert "of no order this worker placed" in unplaced.message and unplaced.severity is Severity.ERROR
        assert await live.tend(NOW + 46_000) == []  # reported once

        # a second order rests; the heartbeat fails: the venue cancels it, its state is UNKNOWN
        second = replace(ORDER, order_id="sig-10:0", account="acct-10")
        await live.submit(second, listing)
        venue.order_objects["0xours2"] = {"status": "LIVE", "original_size": "10", "size_matched": "0"}
        venue.beat_fails = True
        got = await live.tend(NOW + 50_000)
        [unknown] = [r for r in got if isinstance(r, OrderStatus)]
        assert (unknown.order_id, unknown.account, unknown.state) == ("sig-10:0", "acct-10", OrderState.UNKNOWN)
        assert any(isinstance(r, Alert) and r.severity is Severity.CRITICAL and "heartbeat" in r.message for r in got)
        assert "secret" not in json.dumps([r.message for r in got if isinstance(r, Alert)])


async def test_a_matched_answer_carries_the_filled_count() -> None:
    def venue(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": True, "orderID": "0xm", "status": "matched",
                                         "takingAmount": "4", "makingAmount": "2.04"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(venue)) as http:
        client = ClobTradingClient.from_env(ENV, http, base_url="http://clob.test", clock=lambda: NOW, salt=lambda: 42)
        placed = await client.place(replace(ORDER, tif=TimeInForce.IOC), LISTING)
    # 4 of 10 matched at once; a fill-and-kill's remainder is gone
    assert (placed.status.state, placed.status.filled_count, placed.status.remaining_count) == (OrderState.CANCELED, 4.0, 0.0)


async def test_a_timed_out_submit_is_looked_up_by_its_order_hash() -> None:
    """The venue's order id is the hash of the order we signed: known before the POST, so an order
    whose POST timed out is found (here: 4 of 10 matched, the fill-and-kill's rest killed)."""
    venue = Venue_()
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/order":
            posts.append(request.content.decode())
            raise httpx.ReadTimeout("venue slow", request=request)
        return venue(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = ClobTradingClient.from_env(ENV, http, base_url="http://clob.test", clock=lambda: NOW,
                                            salt=itertools.count(42).__next__)
        live = PolymarketLive(client)
        order = replace(ORDER, tif=TimeInForce.IOC)
        with pytest.raises(VenueUnknown):
            await live.submit(order, LISTING)
        vid = client.venue_id_of(order.order_id)
        assert vid is not None and vid.startswith("0x") and len(posts) == 1
        venue.order_objects[vid] = {"status": "ORDER_STATUS_MATCHED", "original_size": "10000000", "size_matched": "4000000"}
        found = await live.lookup(order)
        assert found is not None and len(posts) == 1  # looked up, never resent
        assert (found.status.state, found.status.filled_count, found.status.account) == (OrderState.CANCELED, 4.0, "acct-9")

        lost = replace(order, order_id="sig-11:0")
        with pytest.raises(VenueUnknown):
            await live.submit(lost, LISTING)
        assert await live.lookup(lost) is None  # the venue has no such order: never placed, not resubmitted
        assert client.venue_id_of("sig-11:0") not in client.tracker.open_orders()  # nothing left to watch
