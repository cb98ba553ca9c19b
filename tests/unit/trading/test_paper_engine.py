"""Paper fills walk the recorded Kalshi-shaped book: levels, partials, limit protection, fees, FOK."""

from __future__ import annotations

from dataclasses import replace

from schemas.enums import Action, OrderState, Side, TimeInForce, Venue
from schemas.records import Order
from streams.fees import FeeSchedule
from streams.fees.kalshi import order_fee_levels_micros
from streams.trading.paper_engine import book_as_of, execute
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000
BOOK = game.book(game.GB, T)  # YES asks 0.44 × 17, 0.46 × 400; YES bids 0.42 × 13, 0.35 × 200
FEES = FeeSchedule.from_listing(game.listing(game.GB))


def order(count: float, limit: int, *, side: Side = Side.YES, action: Action = Action.BUY,
          tif: TimeInForce = TimeInForce.IOC) -> Order:
    return Order(order_id="o-1", account="paper", ts=T, venue=Venue.KALSHI, market_id=game.GB, event_id=game.EVENT_ID,
                 side=side, action=action, limit_price_micros=limit, count=count, tif=tif)


def test_buy_walks_two_levels_with_a_kalshi_fee_per_fill() -> None:
    res = execute(order(30, 460_000), BOOK, FEES, latency_ms=250)
    assert [(f.fill_id, f.price_micros, f.count) for f in res.fills] == [("o-1:f0", 440_000, 17.0), ("o-1:f1", 460_000, 13.0)]
    # Kalshi per fill: 0.2933 + rounding 0.0067 = $0.30; 0.07 × 13 × 0.46 × 0.54 = 0.226044 → 0.2261, balance
    # −5.98 − 0.2261 = −6.2061 → −6.21, rounding 0.0039 (carried 0.0106 > 1¢: 1¢ rebated) → $0.22
    assert [f.fee_micros for f in res.fills] == [300_000, 220_000]
    assert sum(f.fee_micros for f in res.fills) == order_fee_levels_micros([(440_000, 17), (460_000, 13)]) == 520_000
    assert res.status.state is OrderState.FILLED and res.status.avg_price_micros == (17 * 440_000 + 13 * 460_000) // 30
    assert res.fills[0].ts == T + 250


def test_a_walk_is_charged_per_fill_with_kalshis_carry_not_one_rounding_of_the_sum() -> None:
    """91 YES walk 17 at $0.44 and 74 at $0.46 (docs.kalshi.com/getting_started/fee_rounding):
    fill 1: trade fee ceil_centicent(0.07·17·0.44·0.56 = 0.293216) = 0.2933, balance −7.7733 floored to
    −7.78 → rounding 0.0067 (carried 0.0067); fill 2: ceil_centicent(0.07·74·0.46·0.54 = 1.286712) = 1.2868,
    balance −35.3268 → −35.33, rounding 0.0032 (carried 0.0099, no rebate below a cent): $0.30 + $1.29 = $1.59.
    One rounding of the summed fee would charge ceil(1.579928) = $1.58, a cent low."""
    res = execute(order(91, 460_000), BOOK, FEES, latency_ms=0)
    assert [(f.price_micros, f.count) for f in res.fills] == [(440_000, 17.0), (460_000, 74.0)]
    assert [f.fee_micros for f in res.fills] == [300_000, 1_290_000]
    assert order_fee_levels_micros([(440_000, 17), (460_000, 74)]) == 1_580_000


def test_limit_protection_partial_fill_cancels_the_rest() -> None:
    res = execute(order(30, 450_000), BOOK, FEES, latency_ms=0)
    assert [(f.price_micros, f.count) for f in res.fills] == [(440_000, 17.0)]
    assert res.status.state is OrderState.CANCELED and res.status.filled_count == 17.0 and res.status.remaining_count == 13.0


def test_nothing_within_the_limit_fills_nothing() -> None:
    res = execute(order(5, 430_000), BOOK, FEES, latency_ms=0)
    assert res.fills == () and res.status.state is OrderState.CANCELED and "nothing within limit" in res.status.reason


def test_fok_fills_all_or_nothing() -> None:
    assert execute(order(30, 450_000, tif=TimeInForce.FOK), BOOK, FEES, 0).fills == ()
    full = execute(order(17, 450_000, tif=TimeInForce.FOK), BOOK, FEES, 0)
    assert full.status.state is OrderState.FILLED and full.fills[0].count == 17.0


def test_sell_walks_bids_down_to_the_limit_and_fractional_counts() -> None:
    res = execute(order(20.5, 350_000, action=Action.SELL), BOOK, FEES, 0)
    assert [(f.price_micros, f.count) for f in res.fills] == [(420_000, 13.0), (350_000, 7.5)]


def test_no_side_uses_the_no_ladder() -> None:
    res = execute(order(3, 600_000, side=Side.NO), BOOK, FEES, 0)  # NO asks: 0.58 × 13
    assert [(f.price_micros, f.count) for f in res.fills] == [(580_000, 3.0)]


def test_book_as_of_order_time_plus_latency_and_no_book_is_rejected() -> None:
    later = replace(game.book(game.GB, T + 1_000), quote_id="later", no_bid_depth=b"")  # no YES asks
    assert book_as_of([BOOK, later], T + 250) is BOOK
    assert book_as_of([BOOK, later], T + 1_000) is later
    assert book_as_of([later], T + 250) is None
    rejected = execute(order(1, 500_000), None, FEES, 250)
    assert rejected.status.state is OrderState.REJECTED and "no book" in rejected.status.reason
